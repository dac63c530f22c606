/**
 * The docs' examples (the `@example` blocks of src/*.ts and the ```ts blocks
 * of README.md and docs/*.md, extracted by test/docs/extract.ts): all
 * type-check, the tests among them run here, and so does every program; the
 * inits run as PID 1 in test/namespace/docs.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Path from "node:path"
import {
  describeRun,
  type Example,
  linesOf,
  prepare,
  publicModules,
  quotedText,
  root,
  runProgram,
  typeCheck
} from "../docs/extract.ts"

const examples = prepare()
const ofKind = (kind: Example["kind"]) => examples.filter((example) => example.kind === kind)

describe("the docs' examples", () => {
  it("every public module has an example", () => {
    const documented = new Set(examples.map((example) => example.source))
    const missing = publicModules().filter((module) => !documented.has(`src/${module}.ts`))
    assert.deepStrictEqual(missing, [])
  })

  it("a block that quotes a file of the repository (a link to it just before the block) is that file", () => {
    for (const example of examples.filter((candidate) => candidate.quotes !== undefined)) {
      assert.strictEqual(
        example.quoteTarget,
        example.quotes,
        `${example.name}: its link says ${example.quotes} and points at ${example.quoteTarget} from ${example.source}`
      )
      assert.strictEqual(example.code, quotedText(example.quotes!), `${example.name} quotes ${example.quotes}`)
    }
  })

  it("the pages of docs/ are among the docs whose examples run", () => {
    const sources = new Set(examples.map((example) => example.source))
    assert.isTrue([...sources].some((source) => source.startsWith("docs/")), [...sources].join(", "))
  })

  it("type-check, with one run of tsc over them all", { timeout: 120_000 }, async () => {
    const result = await typeCheck(examples)
    assert.strictEqual(
      result.exitCode,
      0,
      `the examples do not type-check:\n${result.diagnostics.join("\n")}`
    )
  })

  describe("programs run with node and exit with 0, printing what their `// prints:` lines say", () => {
    // All queued from the start, a few running at a time (extract.ts): each run is mostly node starting up.
    const runs = new Map(ofKind("program").map((example) => [example, runProgram(example)]))
    for (const [example, running] of runs) {
      it(example.name, async () => {
        const run = await running
        assert.strictEqual(run.exitCode, 0, describeRun(example, run))
        if (example.prints !== undefined) {
          assert.deepStrictEqual(linesOf(run.stdout), example.prints, describeRun(example, run))
        }
      })
    }
  })
})

// The examples that are tests register them here, each in a suite named for where it is written.
for (const example of ofKind("test")) {
  describe(`${example.name}, ${Path.relative(root, example.file)}`, async () => {
    await import(example.file)
  })
}
