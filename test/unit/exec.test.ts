import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Exec from "../../src/Exec.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import type { ChildEnd } from "../../src/NodeProcess.ts"
import * as Sysinit from "../../src/Sysinit.ts"
import { syscallError, withKernel } from "./helpers.ts"

const ends = (end: ChildEnd) => (): ChildEnd => end

describe("Exec.withProgram", () => {
  for (const code of [0, 1, 42, 255, 300]) {
    it.effect(`sets the run's exit code to the program's ${code}`, () =>
      Effect.gen(function*() {
        const exitCode = yield* Sysinit.runSteps(Exec.withProgram("/exec/app", []))
        assert.deepStrictEqual(exitCode, Option.some(code))
      }).pipe(withKernel({ programs: { "/exec/app": ends({ _tag: "Exited", code }) } })))
  }

  it.effect("fails with ProgramKilled naming the signal, and sets no exit code", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Sysinit.runSteps(Exec.withProgram("/exec/app", [])))
      assert.instanceOf(error, Exec.ProgramKilled)
      assert.strictEqual(error.message, "/exec/app was killed by SIGKILL")
    }).pipe(withKernel({ programs: { "/exec/app": ends({ _tag: "Killed", signal: "SIGKILL" }) } })))

  it.effect("gives the program consoles 1 and 2 as stdout and stderr, its arguments, cwd and env unchanged", () =>
    Effect.gen(function*() {
      const args = ["with space", "quote\"'", "ünïcode", ""]
      yield* Sysinit.runSteps(Exec.withProgram("/exec/app", args, { cwd: "/work", env: { A: "1" } }))
      const kernel = yield* MemoryKernel
      const [child] = kernel.state.children
      const fds = new Map([...kernel.state.consoles.entries()].map(([fd, console]) => [console.device, fd]))
      assert.deepStrictEqual(child?.args, args)
      assert.strictEqual(child?.cwd, "/work")
      assert.deepStrictEqual(child?.env, { A: "1" })
      assert.strictEqual(child?.stdout, fds.get("/dev/ttyS1"))
      assert.strictEqual(child?.stderr, fds.get("/dev/ttyS2"))
    }).pipe(withKernel({
      consoles: { transport: "serial", ports: [0, 1, 2] },
      programs: { "/exec/app": ends({ _tag: "Exited", code: 0 }) }
    })))

  it.effect("leaves stdout and stderr on the init's own when the host connected no consoles", () =>
    Effect.gen(function*() {
      yield* Sysinit.runSteps(Exec.withProgram("/exec/app", []))
      const [child] = (yield* MemoryKernel).state.children
      assert.strictEqual(child?.stdout, 1)
      assert.strictEqual(child?.stderr, 2)
    }).pipe(withKernel({
      consoles: { transport: "serial", ports: [0] },
      programs: { "/exec/app": ends({ _tag: "Exited", code: 0 }) }
    })))

  it.effect("fails with exec's ENOENT for a program that does not exist", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Exec.runProgram("/exec/missing", []))
      assert.strictEqual(error.errno, "ENOENT")
      assert.strictEqual(error.path, "/exec/missing")
    }).pipe(withKernel()))
})
