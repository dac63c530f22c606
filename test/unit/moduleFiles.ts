/**
 * Kernel module files made in the test: a minimal ELF64 relocatable file with
 * a `.modinfo` section, and its gzip, zstd and xz compressions.
 */
import * as zlib from "node:zlib"

const encoder = new TextEncoder()

const SHT_PROGBITS = 1
const SHT_STRTAB = 3
const sectionHeaderSize = 64

/** `.modinfo` as the kernel's build writes it: NUL-terminated `key=value` strings. */
export const modinfoSection = (fields: ReadonlyArray<readonly [string, string]>): Uint8Array =>
  encoder.encode(fields.map(([key, value]) => `${key}=${value}\0`).join(""))

/**
 * An ELF64 little-endian relocatable file with three sections: the null
 * section, `.modinfo` holding `fields`, and the section name table.
 */
export const moduleElf = (fields: ReadonlyArray<readonly [string, string]>): Uint8Array => {
  const modinfo = modinfoSection(fields)
  const names = encoder.encode("\0.modinfo\0.shstrtab\0")
  const modinfoOffset = 64
  const namesOffset = modinfoOffset + modinfo.length
  const headersOffset = Math.ceil((namesOffset + names.length) / 8) * 8
  const bytes = new Uint8Array(headersOffset + 3 * sectionHeaderSize)
  const view = new DataView(bytes.buffer)
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1])
  view.setUint16(16, 1, true) // ET_REL
  view.setUint16(18, 62, true) // EM_X86_64
  view.setUint32(20, 1, true)
  view.setBigUint64(40, BigInt(headersOffset), true)
  view.setUint16(52, 64, true)
  view.setUint16(58, sectionHeaderSize, true)
  view.setUint16(60, 3, true)
  view.setUint16(62, 2, true)
  bytes.set(modinfo, modinfoOffset)
  bytes.set(names, namesOffset)
  const section = (index: number, name: number, type: number, offset: number, size: number) => {
    const at = headersOffset + index * sectionHeaderSize
    view.setUint32(at, name, true)
    view.setUint32(at + 4, type, true)
    view.setBigUint64(at + 24, BigInt(offset), true)
    view.setBigUint64(at + 32, BigInt(size), true)
    view.setBigUint64(at + 48, 1n, true)
  }
  section(1, 1, SHT_PROGBITS, modinfoOffset, modinfo.length)
  section(2, 10, SHT_STRTAB, namesOffset, names.length)
  return bytes
}

/** A module named `name` that depends on `depends`, with the fields a real one has around them. */
export const module = (name: string, depends: ReadonlyArray<string> = []): Uint8Array =>
  moduleElf([["license", "GPL"], ["depends", depends.join(",")], ["name", name], ["vermagic", "6.1.0 SMP mod_unload"]])

export const gzip = (bytes: Uint8Array): Uint8Array => new Uint8Array(zlib.gzipSync(bytes))

export const zstd = (bytes: Uint8Array): Uint8Array => new Uint8Array(zlib.zstdCompressSync(bytes))

const u32 = (value: number): Array<number> => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24]

const withCrc32 = (
  bytes: ReadonlyArray<number>
): Array<number> => [...bytes, ...u32(zlib.crc32(Uint8Array.from(bytes)))]

/** The xz format's variable-length integer. */
const multibyte = (value: number): Array<number> => {
  const out: Array<number> = []
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80)
    value = Math.floor(value / 0x80)
  }
  return [...out, value]
}

const padTo4 = (length: number): Array<number> => Array.from({ length: (4 - (length % 4)) % 4 }, () => 0)

/**
 * A valid .xz file (one block, LZMA2, CRC32 check) that stores `data` in
 * uncompressed LZMA2 chunks: what `xz` would produce for incompressible data,
 * made without an xz encoder.
 */
export const xzStored = (data: Uint8Array): Uint8Array => {
  const streamFlags = [0x00, 0x01] // CRC32
  const header = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ...withCrc32(streamFlags)]
  // Block header: size/4 - 1, flags (one filter), LZMA2 (0x21) with a 1-byte property (1 MiB dictionary, as kbuild uses).
  const blockHeaderBody = [0x02, 0x00, 0x21, 0x01, 0x10]
  const blockHeader = withCrc32([...blockHeaderBody, ...padTo4(blockHeaderBody.length + 4)])
  const chunks: Array<number> = []
  for (let at = 0; at < data.length; at += 0x10000) {
    const chunk = data.subarray(at, at + 0x10000)
    // 0x01: uncompressed chunk with dictionary reset; 0x02: without.
    chunks.push(at === 0 ? 0x01 : 0x02, (chunk.length - 1) >> 8, (chunk.length - 1) & 0xff, ...chunk)
  }
  chunks.push(0x00)
  const unpaddedSize = blockHeader.length + chunks.length + 4
  const block = [...blockHeader, ...chunks, ...padTo4(chunks.length), ...u32(zlib.crc32(data))]
  const indexBody = [0x00, ...multibyte(1), ...multibyte(unpaddedSize), ...multibyte(data.length)]
  const index = withCrc32([...indexBody, ...padTo4(indexBody.length)])
  const backwardSizeAndFlags = [...u32(index.length / 4 - 1), ...streamFlags]
  const footer = [...u32(zlib.crc32(Uint8Array.from(backwardSizeAndFlags))), ...backwardSizeAndFlags, 0x59, 0x5a]
  return Uint8Array.from([...header, ...block, ...index, ...footer])
}
