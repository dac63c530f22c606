import { assert, describe, it } from "@effect/vitest"
import { decodePayload, encodeMessage, FrameDecoder } from "../../src/protocol/vitestFraming.ts"

const decodeAll = (chunks: ReadonlyArray<Buffer>) => {
  const messages: Array<unknown> = []
  const noise: Array<Buffer> = []
  const decoder = new FrameDecoder((payload) => messages.push(decodePayload(payload)), (bytes) => noise.push(bytes))
  for (const chunk of chunks) decoder.push(chunk)
  decoder.flush()
  return { messages, noise: Buffer.concat(noise).toString("latin1") }
}

describe("the vitest pool's frames", () => {
  const message = { type: "run", pattern: /a.b/g, missing: undefined, files: ["/p/a.test.ts"] }

  it("carry what JSON cannot: RegExps and undefined fields", () => {
    const { messages } = decodeAll([encodeMessage(message)])
    assert.deepStrictEqual(messages, [message])
    assert.isTrue("missing" in (messages[0] as object))
  })

  it("are found between other output, which is passed through in order", () => {
    const bytes = Buffer.concat([
      Buffer.from("before VTP "),
      encodeMessage(1),
      Buffer.from("between"),
      encodeMessage(2)
    ])
    const { messages, noise } = decodeAll([bytes])
    assert.deepStrictEqual(messages, [1, 2])
    assert.strictEqual(noise, "before VTP between")
  })

  it("are decoded when split into one-byte chunks", () => {
    const bytes = Buffer.concat([encodeMessage("first"), Buffer.from("VT"), encodeMessage({ n: 2 })])
    const { messages, noise } = decodeAll([...bytes].map((byte) => Buffer.from([byte])))
    assert.deepStrictEqual(messages, ["first", { n: 2 }])
    assert.strictEqual(noise, "VT")
  })

  it("with a damaged payload are dropped, the next frame still decoded", () => {
    const damaged = encodeMessage("lost")
    damaged[damaged.length - 1] ^= 0xff
    const { messages } = decodeAll([Buffer.concat([damaged, encodeMessage("kept")])])
    assert.deepStrictEqual(messages, ["kept"])
  })
})
