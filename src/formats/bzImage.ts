/**
 * The x86 boot image (bzImage) as the kernel's boot protocol lays it out:
 * the setup code in `setup_sects` 512-byte sectors after the boot sector,
 * then the protected-mode code, whose compressed kernel (vmlinux) starts
 * `payload_offset` bytes in and is `payload_length` bytes long. Pure: the
 * caller reads the file and decompresses.
 */
import type { CompressionFormat } from "./decompress.ts"

/** The compressions the kernel may use for its payload, by magic number; only some can be undone here. */
const payloadMagics: ReadonlyArray<readonly [PayloadFormat, ReadonlyArray<number>]> = [
  ["gzip", [0x1f, 0x8b]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["lzma", [0x5d, 0x00, 0x00]],
  ["lz4", [0x02, 0x21, 0x4c, 0x18]],
  ["bzip2", [0x42, 0x5a, 0x68]]
]

export type PayloadFormat = CompressionFormat | "lzma" | "lz4" | "bzip2"

export interface Payload {
  readonly format: PayloadFormat | undefined
  readonly bytes: Uint8Array
}

const u32 = (bytes: Uint8Array, offset: number): number =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true)

/** The compressed kernel inside a bzImage; undefined when the bytes are not one (no "HdrS" at 0x202) or end early. */
export const payloadOf = (image: Uint8Array): Payload | undefined => {
  if (image.length < 0x250 || new TextDecoder().decode(image.subarray(0x202, 0x206)) !== "HdrS") return undefined
  const setupSectors = image[0x1f1] === 0 ? 4 : image[0x1f1]!
  const start = (setupSectors + 1) * 512 + u32(image, 0x248)
  const length = u32(image, 0x24c)
  if (length === 0 || start + length > image.length) return undefined
  const bytes = image.subarray(start, start + length)
  const format = payloadMagics.find(([, magic]) => magic.every((byte, i) => bytes[i] === byte))?.[0]
  return { format, bytes }
}
