// The wire of the vitest pool (src/vitest.ts) between the host and the
// worker in the guest (src/guest/vitestWorker.ts): vitest's messages,
// structured-clone data, each `v8.serialize`d (as the forks pool's
// `serialization: "advanced"`; JSON would lose RegExps and `undefined`s)
// in a frame (frames.ts). The guest's frames share console 1 with whatever
// else writes to stdout; the host forwards the bytes outside frames to
// vitest's stdout. Both sides import this file; nothing is written twice.
import { deserialize, serialize } from "node:v8"
import { encodeFrame } from "./frames.ts"

export { FrameDecoder } from "./frames.ts"

/** One message as a frame's payload. */
export const encodePayload = (message: unknown): Buffer => serialize(message)

/** One message as a frame. */
export const encodeMessage = (message: unknown): Buffer => encodeFrame(encodePayload(message))

/** The message of a frame's payload. */
export const decodePayload = (payload: Buffer): unknown => deserialize(payload)

/** The worker's first frame: its end of the channel is open and in raw mode, the host may write. */
export interface Hello {
  readonly effectSysinitVitestHello: true
}

/** The hello frame's message. */
export const hello: Hello = { effectSysinitVitestHello: true }

/** Whether a message is the worker's hello. */
export const isHello = (message: unknown): message is Hello =>
  typeof message === "object" && message !== null && (message as Hello).effectSysinitVitestHello === true
