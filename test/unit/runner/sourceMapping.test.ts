import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import * as Bundle from "../../../src/runner/image/Bundle.ts"
import * as SourceMapping from "../../../src/runner/sourceMapping.ts"

const fixture = join(import.meta.dirname, "fixtures/throwsAtTop.ts")

/** Line and column (1-based, as V8 prints them) of `text` in `code`. */
const locate = (code: string, text: string) => {
  const lines = code.split("\n")
  const line = lines.findIndex((l) => l.includes(text))
  return { line: line + 1, column: lines[line]!.indexOf(text) + 1 }
}

describe("source mapping", () => {
  it.effect(
    "maps a frame of the bundle the guest runs back to the user's file, line and column",
    () =>
      Effect.gen(function*() {
        const bundle = yield* Bundle.bundle(fixture)
        const code = new TextDecoder().decode(bundle.code)
        const at = locate(code, "new Error(`no init here")
        const map = SourceMapping.mapper({
          names: ["file:///init"],
          map: yield* bundle.sourceMap,
          lineOffset: bundle.lineOffset,
          sourceRoot: process.cwd()
        })
        assert.strictEqual(
          map(`Error: no init here\n    at file:///init:${at.line}:${at.column}\n    at node:internal/x:1:2`),
          `Error: no init here\n    at ${fixture}:4:7\n    at node:internal/x:1:2`
        )
        // A name that is a prefix of another (file:///init.mjs) is not this file.
        assert.strictEqual(map("at file:///init.mjs:1:1"), "at file:///init.mjs:1:1")
      }),
    60_000
  )

  it("names the bundle in locations the map does not cover, and leaves other text alone", () => {
    const map = SourceMapping.mapper({
      names: ["/proc/1/fd/3"],
      map: JSON.stringify({ version: 3, sources: ["a.ts"], names: [], mappings: "AAAA" }),
      lineOffset: 0,
      sourceRoot: "/src"
    })
    assert.strictEqual(map("at f (/proc/1/fd/3:1:1)"), "at f (/src/a.ts:1:1)")
    assert.strictEqual(map("at g (/proc/1/fd/3:9:9)"), "at g (<bundle>:9:9)")
    assert.strictEqual(map("no frame here"), "no frame here")
  })

  it("drops the frames of the runner's machinery and keeps the user's", () => {
    assert.strictEqual(
      SourceMapping.dropRunnerFrames(
        "Error: PORT is not set\n    at top.ts (/p/top.ts:4:31)\n    at __init (<bundle>:15:61)\n" +
          "    at <effect-sysinit entry>:19:31\n    at node:internal/modules/esm:1:2"
      ),
      "Error: PORT is not set\n    at top.ts (/p/top.ts:4:31)\n    at node:internal/modules/esm:1:2"
    )
  })
})
