/**
 * A small reader of 64-bit little-endian ELF files: the header, program and
 * section headers, a section's contents by name (a kernel module's
 * `.modinfo`), and what the dynamic loader needs (`PT_INTERP`, `DT_NEEDED`,
 * `DT_RUNPATH`). It reads only the parts it needs, through a `Read` function,
 * so a 100 MB binary is not loaded whole.
 */
import { Data, Effect, Option } from "effect"
import type { FileSystem } from "effect"
import type { PlatformError } from "effect/PlatformError"

export class ElfError extends Data.TaggedError("ElfError")<{ readonly reason: string }> {
  override get message(): string {
    return `not a readable ELF64 little-endian file: ${this.reason}`
  }
}

/** Reads `length` bytes at `offset`; fewer at the end of the file. */
export type Read<E> = (offset: number, length: number) => Effect.Effect<Uint8Array, E>

export const fromBytes = (bytes: Uint8Array): Read<never> => (offset, length) =>
  Effect.succeed(bytes.subarray(offset, offset + length))

export const fromFile = (file: FileSystem.File): Read<PlatformError> => (offset, length) =>
  Effect.map(file.readAlloc(length, { position: BigInt(offset) }), Option.getOrElse(() => new Uint8Array(0)))

export const ET_REL = 1
export const ET_EXEC = 2
export const ET_DYN = 3
const PT_LOAD = 1
const PT_DYNAMIC = 2
const PT_INTERP = 3
const PT_NOTE = 4
const SHT_NOBITS = 8
const DT_NEEDED = 1n
const DT_STRTAB = 5n
const DT_STRSZ = 10n
const DT_RPATH = 15n
const DT_RUNPATH = 29n

export interface Header {
  readonly type: number
  readonly machine: number
  readonly phoff: number
  readonly phentsize: number
  readonly phnum: number
  readonly shoff: number
  readonly shentsize: number
  readonly shnum: number
  readonly shstrndx: number
}

export interface ProgramHeader {
  readonly type: number
  readonly offset: number
  readonly vaddr: number
  readonly filesz: number
}

export interface SectionHeader {
  readonly name: string
  readonly type: number
  readonly offset: number
  readonly size: number
  readonly link: number
}

export interface Dynamic {
  /** The dynamic loader (`PT_INTERP`); absent in static binaries and shared libraries. */
  readonly interpreter: string | undefined
  readonly needed: ReadonlyArray<string>
  /** `DT_RUNPATH`, or `DT_RPATH` when there is no runpath, split at ":". */
  readonly runpath: ReadonlyArray<string>
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const u64 = (v: DataView, at: number): number => Number(v.getBigUint64(at, true))

const cString = (bytes: Uint8Array, at: number): string => {
  const end = bytes.indexOf(0, at)
  return new TextDecoder().decode(bytes.subarray(at, end === -1 ? bytes.length : end))
}

const readExactly = <E>(read: Read<E>, offset: number, length: number, what: string) =>
  Effect.flatMap(
    read(offset, length),
    (bytes) =>
      bytes.length === length
        ? Effect.succeed(bytes)
        : Effect.fail(new ElfError({ reason: `${what} is cut short at offset ${offset}` }))
  )

export const readHeader = Effect.fnUntraced(function*<E>(read: Read<E>): Effect.fn.Return<Header, E | ElfError> {
  const bytes = yield* read(0, 64)
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    return yield* new ElfError({ reason: "no ELF magic" })
  }
  if (bytes[4] !== 2 || bytes[5] !== 1) {
    return yield* new ElfError({ reason: `class ${bytes[4]}, data encoding ${bytes[5]}` })
  }
  const v = view(bytes)
  return {
    type: v.getUint16(16, true),
    machine: v.getUint16(18, true),
    phoff: u64(v, 32),
    shoff: u64(v, 40),
    phentsize: v.getUint16(54, true),
    phnum: v.getUint16(56, true),
    shentsize: v.getUint16(58, true),
    shnum: v.getUint16(60, true),
    shstrndx: v.getUint16(62, true)
  }
})

export const readProgramHeaders = Effect.fnUntraced(function*<E>(
  read: Read<E>,
  header: Header
): Effect.fn.Return<ReadonlyArray<ProgramHeader>, E | ElfError> {
  if (header.phnum === 0) return []
  const bytes = yield* readExactly(read, header.phoff, header.phnum * header.phentsize, "program header table")
  const v = view(bytes)
  return Array.from({ length: header.phnum }, (_, i) => {
    const at = i * header.phentsize
    return { type: v.getUint32(at, true), offset: u64(v, at + 8), vaddr: u64(v, at + 16), filesz: u64(v, at + 32) }
  })
})

export const readSectionHeaders = Effect.fnUntraced(function*<E>(
  read: Read<E>,
  header: Header
): Effect.fn.Return<ReadonlyArray<SectionHeader>, E | ElfError> {
  if (header.shoff === 0) return []
  const parse = (bytes: Uint8Array, i: number) => {
    const v = view(bytes)
    const at = i * header.shentsize
    return {
      nameOffset: v.getUint32(at, true),
      type: v.getUint32(at + 4, true),
      offset: u64(v, at + 24),
      size: u64(v, at + 32),
      link: v.getUint32(at + 40, true)
    }
  }
  let count = header.shnum
  let stringsIndex = header.shstrndx
  if (count === 0 || stringsIndex === 0xffff) {
    // Extended numbering: section 0 holds the real count and string table index.
    const first = parse(yield* readExactly(read, header.shoff, header.shentsize, "section header 0"), 0)
    if (count === 0) count = first.size
    if (stringsIndex === 0xffff) stringsIndex = first.link
  }
  const table = yield* readExactly(read, header.shoff, count * header.shentsize, "section header table")
  const raw = Array.from({ length: count }, (_, i) => parse(table, i))
  const strings = raw[stringsIndex]
  const names = strings === undefined
    ? new Uint8Array(0)
    : yield* readExactly(read, strings.offset, strings.size, "section name table")
  return raw.map((s) => ({
    name: cString(names, s.nameOffset),
    type: s.type,
    offset: s.offset,
    size: s.size,
    link: s.link
  }))
})

/** The contents of the first section called `name`, or undefined when there is none. */
export const readSection = Effect.fnUntraced(function*<E>(
  read: Read<E>,
  name: string
): Effect.fn.Return<Uint8Array | undefined, E | ElfError> {
  const sections = yield* readSectionHeaders(read, yield* readHeader(read))
  const section = sections.find((s) => s.name === name)
  if (section === undefined) return undefined
  if (section.type === SHT_NOBITS) return new Uint8Array(0)
  return yield* readExactly(read, section.offset, section.size, `section ${name}`)
})

/** Where a virtual address of a loaded segment lives in the file. */
const fileOffset = (segments: ReadonlyArray<ProgramHeader>, address: number): number | undefined => {
  const load = segments.find((p) => p.type === PT_LOAD && address >= p.vaddr && address < p.vaddr + p.filesz)
  return load === undefined ? undefined : address - load.vaddr + load.offset
}

export const readDynamic = Effect.fnUntraced(function*<E>(read: Read<E>): Effect.fn.Return<Dynamic, E | ElfError> {
  const header = yield* readHeader(read)
  const segments = yield* readProgramHeaders(read, header)
  const interp = segments.find((p) => p.type === PT_INTERP)
  const interpreter = interp === undefined
    ? undefined
    : cString(yield* readExactly(read, interp.offset, interp.filesz, "PT_INTERP"), 0)
  const dynamic = segments.find((p) => p.type === PT_DYNAMIC)
  if (dynamic === undefined) return { interpreter, needed: [], runpath: [] }

  const v = view(yield* readExactly(read, dynamic.offset, dynamic.filesz, "PT_DYNAMIC"))
  const entries: Array<readonly [bigint, bigint]> = []
  for (let at = 0; at + 16 <= v.byteLength; at += 16) {
    const tag = v.getBigInt64(at, true)
    if (tag === 0n) break
    entries.push([tag, v.getBigUint64(at + 8, true)])
  }
  const value = (tag: bigint) => entries.find(([t]) => t === tag)?.[1]
  const stringsAddress = value(DT_STRTAB)
  const stringsSize = value(DT_STRSZ)
  if (stringsAddress === undefined || stringsSize === undefined) {
    return yield* new ElfError({ reason: "dynamic section without DT_STRTAB or DT_STRSZ" })
  }
  const stringsOffset = fileOffset(segments, Number(stringsAddress))
  if (stringsOffset === undefined) {
    return yield* new ElfError({ reason: "DT_STRTAB outside every loaded segment" })
  }
  const strings = yield* readExactly(read, stringsOffset, Number(stringsSize), "dynamic string table")
  const stringsOf = (tag: bigint) => entries.filter(([t]) => t === tag).map(([, at]) => cString(strings, Number(at)))
  const runpath = stringsOf(DT_RUNPATH)
  return {
    interpreter,
    needed: stringsOf(DT_NEEDED),
    runpath: (runpath.length > 0 ? runpath : stringsOf(DT_RPATH)).flatMap((p) => p.split(":")).filter((p) => p !== "")
  }
})

export interface Note {
  readonly name: string
  readonly type: number
  readonly desc: Uint8Array
}

const align4 = (n: number) => (n + 3) & ~3

/** The notes of the `PT_NOTE` segments, e.g. the Xen notes of a kernel that can boot through PVH. */
export const readNotes = Effect.fnUntraced(
  function*<E>(read: Read<E>): Effect.fn.Return<ReadonlyArray<Note>, E | ElfError> {
    const segments = yield* readProgramHeaders(read, yield* readHeader(read))
    const notes: Array<Note> = []
    for (const segment of segments.filter((p) => p.type === PT_NOTE)) {
      const bytes = yield* readExactly(read, segment.offset, segment.filesz, "PT_NOTE")
      const v = view(bytes)
      for (let at = 0; at + 12 <= bytes.length;) {
        const nameSize = v.getUint32(at, true)
        const descSize = v.getUint32(at + 4, true)
        const type = v.getUint32(at + 8, true)
        const descAt = at + 12 + align4(nameSize)
        notes.push({
          name: cString(bytes.subarray(at + 12, at + 12 + nameSize), 0),
          type,
          desc: bytes.subarray(descAt, descAt + descSize)
        })
        at = descAt + align4(descSize)
      }
    }
    return notes
  }
)

/** A kernel module's `.modinfo`: NUL-separated `key=value` strings; a key may repeat. */
export const parseModinfo = (bytes: Uint8Array): ReadonlyArray<readonly [string, string]> =>
  new TextDecoder().decode(bytes).split("\0").filter((s) => s.includes("=")).map((s) => {
    const at = s.indexOf("=")
    return [s.slice(0, at), s.slice(at + 1)] as const
  })
