// Frames over a console: a byte stream that other output may share, cut
// into payloads the receiver can trust. Both the vitest pool's wire
// (vitestFraming.ts) and the runner's control messages (control.ts) use it.
//
// Frame: MAGIC "VTPF" (4) | length u32 BE (4) | crc32(payload) u32 BE (4)
//        | crc32(previous 12 header bytes) u32 BE (4) | payload
// The decoder resynchronises on MAGIC and hands every byte outside a valid
// frame to `onNoise`. The header checksum rejects a fake header in ordinary
// output at once.
import { crc32 } from "node:zlib"

const magic = Buffer.from("VTPF")
const headerBytes = 16

/** The largest payload the decoder accepts. */
export const maxFrameBytes = 256 * 1024 * 1024

/** One payload as a frame. */
export const encodeFrame = (payload: Uint8Array): Buffer => {
  const header = Buffer.allocUnsafe(headerBytes)
  magic.copy(header, 0)
  header.writeUInt32BE(payload.length, 4)
  header.writeUInt32BE(crc32(payload), 8)
  header.writeUInt32BE(crc32(header.subarray(0, 12)), 12)
  return Buffer.concat([header, payload])
}

/** Splits a byte stream into frame payloads and the bytes between them. */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0)
  private readonly onFrame: (payload: Buffer) => void
  private readonly onNoise: (bytes: Buffer) => void

  constructor(onFrame: (payload: Buffer) => void, onNoise: (bytes: Buffer) => void) {
    this.onFrame = onFrame
    this.onNoise = onNoise
  }

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    for (;;) {
      const at = this.buffer.indexOf(magic)
      if (at === -1) {
        // Keep a tail that may be the start of MAGIC split across chunks.
        let cut = this.buffer.length
        for (let k = Math.min(magic.length - 1, this.buffer.length); k > 0; k--) {
          if (this.buffer.subarray(this.buffer.length - k).equals(magic.subarray(0, k))) {
            cut = this.buffer.length - k
            break
          }
        }
        if (cut > 0) this.onNoise(this.buffer.subarray(0, cut))
        this.buffer = this.buffer.subarray(cut)
        return
      }
      if (at > 0) {
        this.onNoise(this.buffer.subarray(0, at))
        this.buffer = this.buffer.subarray(at)
      }
      if (this.buffer.length < headerBytes) return
      const length = this.buffer.readUInt32BE(4)
      if (crc32(this.buffer.subarray(0, 12)) !== this.buffer.readUInt32BE(12) || length > maxFrameBytes) {
        this.skipOneByte()
        continue
      }
      if (this.buffer.length < headerBytes + length) return
      const payload = this.buffer.subarray(headerBytes, headerBytes + length)
      if (crc32(payload) !== this.buffer.readUInt32BE(8)) {
        this.skipOneByte()
        continue
      }
      this.buffer = this.buffer.subarray(headerBytes + length)
      // A copy: the payload must not pin the receive buffer.
      this.onFrame(Buffer.from(payload))
    }
  }

  /** Hands what is still buffered (an incomplete frame) to `onNoise`, at the end of the stream. */
  flush(): void {
    if (this.buffer.length > 0) this.onNoise(this.buffer)
    this.buffer = Buffer.alloc(0)
  }

  private skipOneByte(): void {
    this.onNoise(this.buffer.subarray(0, 1))
    this.buffer = this.buffer.subarray(1)
  }
}
