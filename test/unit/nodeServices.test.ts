import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, FileSystem, Layer, Path, Queue, Stdio, Terminal } from "effect"
import { ChildProcessSpawner } from "effect/process"
import * as InitNodeServices from "../../src/internal/nodeServices.ts"

// Node's Terminal, once made, watches for the end of stdin until its scope closes.
const watching = () => process.stdin.listenerCount("end")

describe("the init's Node services", () => {
  it.effect("provide every service of NodeServices, the Terminal included", () =>
    Effect.gen(function*() {
      yield* FileSystem.FileSystem
      yield* Path.Path
      yield* Stdio.Stdio
      yield* ChildProcessSpawner.ChildProcessSpawner
      const terminal = yield* Terminal.Terminal
      assert.isFunction(terminal.display)
    }).pipe(Effect.provide(InitNodeServices.layer)))

  it.effect("make Node's Terminal on its first use, once, and give it back with the layer's scope", () =>
    Effect.gen(function*() {
      const before = watching()
      yield* Effect.scoped(Effect.gen(function*() {
        const terminal = Context.get(yield* Layer.build(InitNodeServices.lazyTerminal), Terminal.Terminal)
        assert.strictEqual(watching(), before, "not made as the layer is built")
        assert.strictEqual(yield* terminal.columns, process.stdout.columns ?? 0)
        assert.strictEqual(watching(), before + 1, "made on first use")
        assert.strictEqual(yield* terminal.rows, process.stdout.rows ?? 0)
        const size = yield* Effect.scoped(Effect.flatMap(terminal.size, Queue.take))
        assert.deepStrictEqual(size, { columns: process.stdout.columns ?? 0, rows: process.stdout.rows ?? 0 })
        yield* terminal.display("")
        assert.strictEqual(watching(), before + 1, "made once")
      }))
      assert.strictEqual(watching(), before, "given back with the layer's scope")
    }))
})
