/**
 * A streaming writer of cpio archives in the "newc" format, the format the
 * Linux kernel unpacks as an initramfs. Entries go to the output file as they
 * are added; file contents are copied in chunks, so an archive of any size
 * needs only one chunk of memory.
 */
import { Data, Effect, FileSystem } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { Scope } from "effect/Scope"

/** The kind bits of `st_mode`. */
export const S_IFDIR = 0o040000
export const S_IFREG = 0o100000
export const S_IFLNK = 0o120000
export const S_IFCHR = 0o020000

const HEADER_SIZE = 110
const MAGIC = "070701"
const CHUNK_SIZE = 1 << 20
export const TRAILER_NAME = "TRAILER!!!"

/** A file changed size while it was being copied into the archive, or an entry cannot be encoded. */
export class CpioError extends Data.TaggedError("CpioError")<{ readonly path: string; readonly reason: string }> {
  override get message(): string {
    return `cpio entry ${JSON.stringify(this.path)}: ${this.reason}`
  }
}

export interface CpioWriter {
  readonly directory: (path: string, mode?: number) => Effect.Effect<void, PlatformError>
  /** A regular file whose contents are in memory. */
  readonly file: (path: string, contents: Uint8Array, mode?: number) => Effect.Effect<void, PlatformError>
  /** A regular file copied from the host in chunks; `mode` defaults to the host file's permission bits. */
  readonly copyFile: (path: string, hostPath: string, mode?: number) => Effect.Effect<void, PlatformError | CpioError>
  readonly symlink: (path: string, target: string) => Effect.Effect<void, PlatformError>
  readonly characterDevice: (
    path: string,
    major: number,
    minor: number,
    mode?: number
  ) => Effect.Effect<void, PlatformError>
  /** Writes the trailer; nothing may be added after it. */
  readonly finish: Effect.Effect<void, PlatformError>
  /** Bytes written so far. */
  readonly size: Effect.Effect<number>
}

interface Header {
  readonly ino: number
  readonly mode: number
  readonly nlink: number
  readonly fileSize: number
  readonly name: string
  readonly rdevMajor?: number
  readonly rdevMinor?: number
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0")

const padding = (offset: number): number => (4 - (offset % 4)) % 4

/** Archive paths are relative to the root: "/bin/node" and "bin/node" name the same entry. */
export const archivePath = (path: string): string => {
  const relative = path.replace(/^\/+/, "").replace(/\/+$/, "")
  return relative === "" ? "." : relative
}

/** The header and the NUL-terminated name, padded to a multiple of 4 bytes. */
export const encodeHeader = (header: Header): Uint8Array => {
  const name = new TextEncoder().encode(header.name)
  const nameSize = name.length + 1
  const fields = [
    header.ino,
    header.mode,
    0,
    0,
    header.nlink,
    0,
    header.fileSize,
    0,
    0,
    header.rdevMajor ?? 0,
    header.rdevMinor ?? 0,
    nameSize,
    0
  ]
  const text = MAGIC + fields.map(hex8).join("")
  const total = HEADER_SIZE + nameSize
  const out = new Uint8Array(total + padding(total))
  out.set(new TextEncoder().encode(text), 0)
  out.set(name, HEADER_SIZE)
  return out
}

/**
 * Opens `outputPath` for writing (truncating it) and returns a writer whose
 * file handle closes with the scope. Call `finish` before the scope closes.
 */
export const make = Effect.fnUntraced(function*(
  outputPath: string
): Effect.fn.Return<CpioWriter, PlatformError, FileSystem.FileSystem | Scope> {
  const fs = yield* FileSystem.FileSystem
  const out = yield* fs.open(outputPath, { flag: "w" })
  let offset = 0
  let nextIno = 1

  const write = (bytes: Uint8Array) => Effect.map(out.writeAll(bytes), () => void (offset += bytes.length))
  const pad = Effect.suspend(() => {
    const n = padding(offset)
    return n === 0 ? Effect.void : write(new Uint8Array(n))
  })
  const header = (path: string, mode: number, nlink: number, fileSize: number) =>
    write(encodeHeader({ ino: nextIno++, mode, nlink, fileSize, name: archivePath(path) }))

  const file = (path: string, contents: Uint8Array, mode = 0o644) =>
    Effect.andThen(header(path, S_IFREG | (mode & 0o7777), 1, contents.length), Effect.andThen(write(contents), pad))

  const copyFile = (path: string, hostPath: string, mode?: number) =>
    Effect.scoped(Effect.gen(function*() {
      const source = yield* fs.open(hostPath, { flag: "r" })
      const info = yield* source.stat
      const fileSize = Number(info.size)
      yield* header(path, S_IFREG | ((mode ?? info.mode) & 0o7777), 1, fileSize)
      const buffer = new Uint8Array(Math.min(CHUNK_SIZE, Math.max(fileSize, 1)))
      let copied = 0
      while (copied < fileSize) {
        const n = yield* source.read(buffer)
        if (n === 0) break
        const chunk = buffer.subarray(0, Math.min(n, fileSize - copied))
        yield* write(chunk)
        copied += chunk.length
      }
      if (copied !== fileSize) {
        return yield* new CpioError({
          path: hostPath,
          reason: `shrank from ${fileSize} to ${copied} bytes while copied`
        })
      }
      yield* pad
    }))

  return {
    directory: (path, mode = 0o755) => header(path, S_IFDIR | (mode & 0o7777), 2, 0),
    file,
    copyFile,
    symlink: (path, target) => {
      const bytes = new TextEncoder().encode(target)
      return Effect.andThen(header(path, S_IFLNK | 0o777, 1, bytes.length), Effect.andThen(write(bytes), pad))
    },
    characterDevice: (path, major, minor, mode = 0o600) =>
      write(encodeHeader({
        ino: nextIno++,
        mode: S_IFCHR | (mode & 0o7777),
        nlink: 1,
        fileSize: 0,
        name: archivePath(path),
        rdevMajor: major,
        rdevMinor: minor
      })),
    finish: Effect.andThen(
      write(encodeHeader({ ino: 0, mode: 0, nlink: 1, fileSize: 0, name: TRAILER_NAME })),
      out.sync
    ),
    size: Effect.sync(() => offset)
  }
})
