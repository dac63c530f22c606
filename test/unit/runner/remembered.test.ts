/**
 * Answers kept in the cache: read back while the files they came from are
 * unchanged, worked out again when one changed or the entry is bad.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, FileSystem, Path } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import * as Remembered from "../../../src/runner/remembered.ts"

/** A cache directory and a source file of the test's own. */
const inCache = <A, E>(
  effect: (cache: string, source: string) => Effect.Effect<A, E, FileSystem.FileSystem | Path.Path>
) => {
  const cache = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-remembered-"))
  const source = join(cache, "source")
  fs.writeFileSync(source, "one")
  return effect(cache, source).pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))),
    Effect.provide(NodeServices.layer),
    Effect.ensuring(Effect.sync(() => fs.rmSync(cache, { recursive: true, force: true })))
  ) as Effect.Effect<A, E>
}

/** `remember` of the source's content, counting the times it was worked out. */
const counted = (source: string) => {
  let computed = 0
  const ask = Remembered.remember({
    folder: "answers",
    key: { question: "content" },
    compute: Effect.sync(() => {
      computed++
      return fs.readFileSync(source, "utf8")
    }),
    filesOf: () => [source]
  })
  return { ask, computed: () => computed }
}

describe("remembered answers", () => {
  it.effect("are worked out once and read back while their files are unchanged", () =>
    inCache((_, source) =>
      Effect.gen(function*() {
        const { ask, computed } = counted(source)
        assert.strictEqual(yield* ask, "one")
        assert.strictEqual(yield* ask, "one")
        assert.strictEqual(computed(), 1)
      })
    ))

  it.effect("are worked out again when a file they came from changed", () =>
    inCache((_, source) =>
      Effect.gen(function*() {
        const { ask, computed } = counted(source)
        yield* ask
        fs.writeFileSync(source, "three")
        assert.strictEqual(yield* ask, "three")
        assert.strictEqual(computed(), 2)
      })
    ))

  it.effect("are worked out again, and kept whole, when the entry is bad", () =>
    inCache((cache, source) =>
      Effect.gen(function*() {
        const { ask, computed } = counted(source)
        yield* ask
        const [entry] = fs.readdirSync(join(cache, "answers"))
        for (const bad of ["{not json", "{}", JSON.stringify({ answer: "stale" })]) {
          fs.writeFileSync(join(cache, "answers", entry!), bad)
          assert.strictEqual(yield* ask, "one")
        }
        assert.strictEqual(computed(), 4)
        assert.deepStrictEqual(fs.readdirSync(join(cache, "answers")), [entry], "no partial file is left")
        assert.strictEqual(yield* ask, "one")
        assert.strictEqual(computed(), 4)
      })
    ))

  it.effect("are keyed by what they depend on", () =>
    inCache((_, source) =>
      Effect.gen(function*() {
        for (const key of ["a", "b"]) {
          const answer = Remembered.remember({
            folder: "answers",
            key,
            compute: Effect.succeed(key),
            filesOf: () => [source]
          })
          assert.strictEqual(yield* answer, key)
        }
      })
    ))

  it.effect("a failure is not kept", () =>
    inCache((cache, source) =>
      Effect.gen(function*() {
        const failing = Remembered.remember({
          folder: "answers",
          key: "k",
          compute: Effect.fail("no"),
          filesOf: () => [source]
        })
        assert.strictEqual(yield* Effect.flip(failing), "no")
        assert.isFalse(fs.existsSync(join(cache, "answers")))
      })
    ))

  it.effect("a folder keeps the 256 answers written last", () =>
    inCache((cache, source) =>
      Effect.gen(function*() {
        const folder = join(cache, "answers")
        fs.mkdirSync(folder)
        const old = new Date(Date.now() - 60_000)
        for (let i = 0; i < 256; i++) {
          fs.writeFileSync(join(folder, `${i}.json`), "{}")
          fs.utimesSync(join(folder, `${i}.json`), old, old)
        }
        yield* Remembered.remember({
          folder: "answers",
          key: "new",
          compute: Effect.succeed(1),
          filesOf: () => [source]
        })
        const names = fs.readdirSync(folder)
        assert.lengthOf(names, 256)
        assert.strictEqual(names.filter((name) => /^\d+\.json$/.test(name)).length, 255, "one of the oldest went")
      })
    ))

  it("a file's identity is its path, size and mtime; a missing one has size -1", () => {
    const missing = join(os.tmpdir(), "effect-sysinit-no-such-file")
    assert.deepStrictEqual(Effect.runSync(Remembered.identity(missing)), [missing, -1, 0])
    assert.strictEqual(Effect.runSync(Remembered.identity("/bin/sh"))[0], "/bin/sh")
  })
})
