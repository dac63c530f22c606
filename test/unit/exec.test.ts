import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Exec from "../../src/Exec.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import type { ChildEnd } from "../../src/NodeProcess.ts"
import { Syscalls } from "../../src/Syscalls.ts"
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

describe("Exec.withProgram's stdin", () => {
  it.effect("is the file given, opened for the program and closed after it", () =>
    Effect.gen(function*() {
      yield* Sysinit.runSteps(Exec.withProgram("/exec/app", [], { stdinFile: "/exec/.stdin" }))
      const kernel = yield* MemoryKernel
      const [child] = kernel.state.children
      assert.isNumber(child?.stdin)
      assert.deepStrictEqual(
        kernel.calls.find((call) => call.call === "openConsoleForReading"),
        { call: "openConsoleForReading", path: "/exec/.stdin" }
      )
      const error = yield* syscallError((yield* Syscalls).read(child!.stdin!, 1))
      assert.strictEqual(error.errno, "EBADF", "closed once the program ended")
    }).pipe(withKernel({
      files: { "/exec/.stdin": "echo hi\n" },
      programs: { "/exec/app": ends({ _tag: "Exited", code: 0 }) }
    })))

  it.effect("is /dev/null without one", () =>
    Effect.gen(function*() {
      yield* Sysinit.runSteps(Exec.withProgram("/exec/app", []))
      const [child] = (yield* MemoryKernel).state.children
      assert.isUndefined(child?.stdin)
    }).pipe(withKernel({ programs: { "/exec/app": ends({ _tag: "Exited", code: 0 }) } })))
})

const terminal = { device: "/dev/hvc3", windowSize: { rows: 40, columns: 100 } }
/** Consoles 0 to 3 over virtio, and a setsid that ends as given. */
const terminalMachine = (end: ChildEnd) => ({
  consoles: { transport: "virtio" as const, ports: [0, 1, 2, 3] },
  programs: { setsid: () => end }
})

describe("Exec.withTerminalProgram", () => {
  it.effect("runs the program through setsid --ctty on the terminal, cooked, at its size, as stdin, stdout and stderr", () =>
    Effect.gen(function*() {
      const exitCode = yield* Sysinit.runSteps(
        Exec.withTerminalProgram("/bin/bash", [], { cwd: "/work", env: { TERM: "xterm" }, terminal })
      )
      assert.deepStrictEqual(exitCode, Option.some(5))
      const kernel = yield* MemoryKernel
      const [child] = kernel.state.children
      assert.deepStrictEqual(
        { command: child?.command, args: child?.args, cwd: child?.cwd, env: child?.env },
        { command: "setsid", args: ["--ctty", "--wait", "/bin/bash"], cwd: "/work", env: { TERM: "xterm" } }
      )
      assert.deepStrictEqual([child?.stdout, child?.stderr], [child?.stdin, child?.stdin])
      const console = kernel.state.consoles.get(child!.stdin!)
      assert.deepStrictEqual(
        { device: console?.device, cooked: console?.cooked, size: console?.windowSize, open: console?.open },
        { device: "/dev/hvc3", cooked: true, size: terminal.windowSize, open: false }
      )
      const calls = kernel.calls.map((call) => call.call)
      assert.isBelow(calls.indexOf("setRawMode"), calls.indexOf("setCookedMode"), "the host pipes' raw mode first")
    }).pipe(withKernel(terminalMachine({ _tag: "Exited", code: 5 }))))

  it.effect("fails with ProgramKilled naming the program, not setsid, when a signal killed it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Sysinit.runSteps(Exec.withTerminalProgram("/bin/bash", [], { terminal })))
      assert.instanceOf(error, Exec.ProgramKilled)
      assert.strictEqual(error.message, "/bin/bash was killed by SIGHUP")
    }).pipe(withKernel(terminalMachine({ _tag: "Killed", signal: "SIGHUP" }))))

  it.effect("a console the host did not connect is ENODEV, and nothing runs", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Sysinit.runSteps(
        Exec.withTerminalProgram("/bin/bash", [], { terminal: { ...terminal, device: "/dev/hvc5" } })
      ))
      assert.strictEqual(error.errno, "ENODEV")
      assert.deepStrictEqual((yield* MemoryKernel).state.children, [])
    }).pipe(withKernel(terminalMachine({ _tag: "Exited", code: 0 }))))
})
