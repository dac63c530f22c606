import { assert, describe, it } from "@effect/vitest"
import { layout, numbersOf } from "../../src/protocol/consoles.ts"
import {
  decodeRunMessage,
  decodeWindowSizeMessage,
  encodeRunMessage,
  encodeWindowSizeMessage
} from "../../src/protocol/control.ts"
import { FrameDecoder } from "../../src/protocol/frames.ts"

/** The payloads of the frames in `bytes`. */
const payloads = (bytes: Uint8Array): ReadonlyArray<Buffer> => {
  const found: Array<Buffer> = []
  new FrameDecoder((payload) => found.push(payload), () => {}).push(Buffer.from(bytes))
  return found
}

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

describe("the control console's messages", () => {
  it("a window size message decodes to its size, and is no run message", () => {
    const [payload] = payloads(encodeWindowSizeMessage({ rows: 40, columns: 132 }))
    assert.deepStrictEqual(decodeWindowSizeMessage(payload!), { rows: 40, columns: 132 })
    assert.isUndefined(decodeRunMessage(payload!))
  })

  it("a run message is no window size message", () => {
    const [payload] = payloads(encodeRunMessage({ nonce: "n", time: 0, entropy: "", run: { windowSize: 1 } }))
    assert.isUndefined(decodeWindowSizeMessage(payload!))
    assert.strictEqual(decodeRunMessage(payload!)?.nonce, "n")
  })

  const refused: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["not JSON", new TextEncoder().encode("{rows")],
    ["null", json(null)],
    ["no size", json({ windowSize: null })],
    ["a size without columns", json({ windowSize: { rows: 24 } })],
    ["a fraction of a row", json({ windowSize: { rows: 24.5, columns: 80 } })],
    ["negative columns", json({ windowSize: { rows: 24, columns: -1 } })],
    ["more columns than a struct winsize holds", json({ windowSize: { rows: 24, columns: 65536 } })],
    ["numbers as strings", json({ windowSize: { rows: "24", columns: "80" } })]
  ]
  for (const [name, payload] of refused) {
    it(`a payload of ${name} is no window size message`, () => {
      assert.isUndefined(decodeWindowSizeMessage(payload))
    })
  }

  it("a window size message carries the size alone, whatever else the size had", () => {
    const size = { rows: 0, columns: 65535, extra: "dropped" }
    const [payload] = payloads(encodeWindowSizeMessage(size))
    assert.deepStrictEqual(decodeWindowSizeMessage(payload!), { rows: 0, columns: 65535 })
  })
})

describe("the consoles' layout", () => {
  it("puts the terminal after the inputs and before the control console, so outputs and inputs keep their numbers", () => {
    const withTerminal = layout({ stderr: true, outputs: 1, inputs: 1, terminal: true, control: true })
    const without = layout({ stderr: true, outputs: 1, inputs: 1, control: true })
    assert.deepStrictEqual(withTerminal, ["log", "stdout", "stderr", "output", "input", "terminal", "control"])
    assert.deepStrictEqual(numbersOf(withTerminal, "output"), numbersOf(without, "output"))
    assert.deepStrictEqual(numbersOf(withTerminal, "input"), numbersOf(without, "input"))
    assert.deepStrictEqual(numbersOf(layout({ stderr: true, control: true }), "terminal"), [])
  })
})
