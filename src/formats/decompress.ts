/**
 * Decompression of module files in user space, for kernels that cannot do it
 * themselves: gzip and zstd with node's zlib, xz with xz-embedded compiled to
 * WebAssembly (`xz-decompress`), so nothing native has to be built for the
 * guest. Pure computation on bytes: the caller reads the file.
 */
import { Data, Effect } from "effect"
import * as zlib from "node:zlib"
import xzDecompress from "xz-decompress"

export type CompressionFormat = "gzip" | "xz" | "zstd"

export class CorruptData extends Data.TaggedError("CorruptData")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

const reasonOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** xz-embedded's `enum xz_ret`, which xz-decompress reports only as a number. */
const xzReasons: Record<string, string> = {
  "2": "unsupported integrity check",
  "3": "out of memory",
  "4": "dictionary larger than the memory limit",
  "5": "not in the xz format",
  "6": "unsupported xz options",
  "7": "corrupt data",
  "8": "unexpected end of file"
}

const xzReasonOf = (error: unknown): string => {
  const reason = reasonOf(error)
  const code = /error code (\d+)/.exec(reason)?.[1]
  return code === undefined ? reason : xzReasons[code] ?? reason
}

const xz = (bytes: Uint8Array): Effect.Effect<Uint8Array, CorruptData> =>
  Effect.tryPromise({
    try: async () => {
      const stream = new xzDecompress.XzReadableStream(new Blob([bytes]).stream())
      return new Uint8Array(await new Response(stream).arrayBuffer())
    },
    catch: (error) => new CorruptData({ reason: xzReasonOf(error) })
  })

const zlibCall = (decompress: (bytes: Uint8Array) => Buffer) => (bytes: Uint8Array) =>
  Effect.try({
    try: () => {
      const out = decompress(bytes)
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
    },
    catch: (error) => new CorruptData({ reason: reasonOf(error) })
  })

const decompressors: Record<CompressionFormat, (bytes: Uint8Array) => Effect.Effect<Uint8Array, CorruptData>> = {
  gzip: zlibCall((bytes) => zlib.gunzipSync(bytes)),
  xz,
  zstd: zlibCall((bytes) => zlib.zstdDecompressSync(bytes))
}

/** The whole decompressed contents; corrupt, truncated or empty input fails with the decoder's reason. */
export const decompress = (format: CompressionFormat, bytes: Uint8Array): Effect.Effect<Uint8Array, CorruptData> =>
  bytes.length === 0 ? Effect.fail(new CorruptData({ reason: "empty file" })) : decompressors[format](bytes)

const magics: ReadonlyArray<readonly [CompressionFormat, ReadonlyArray<number>]> = [
  ["gzip", [0x1f, 0x8b]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]]
]

/** The format of compressed bytes by their magic number, as the kernel's decompressors tell it. */
export const formatOf = (bytes: Uint8Array): CompressionFormat | undefined =>
  magics.find(([, magic]) => magic.every((byte, i) => bytes[i] === byte))?.[0]
