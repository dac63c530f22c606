import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Path, Stdio, Terminal } from "effect"
import { ChildProcessSpawner } from "effect/process"
import * as InitNodeServices from "../../src/internal/nodeServices.ts"

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
})
