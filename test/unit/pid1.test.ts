import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as HostPipe from "../../src/HostPipe.ts"
import * as Abi from "../../src/internal/abi.ts"
import { ExitRequest } from "../../src/internal/exitRequest.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import type { ProcessFault, SignalName } from "../../src/NodeProcess.ts"
import type { State } from "../../src/State.ts"
import * as Sysinit from "../../src/Sysinit.ts"
import { consoleLines, exitLines, withKernel } from "./helpers.ts"

/** Starts a run whose last step waits forever, and lets it reach that step. */
const startRun = (...steps: ReadonlyArray<Sysinit.Step<unknown, State>>) =>
  Effect.gen(function*() {
    const finalized: Array<string> = []
    const fiber = yield* Effect.forkChild(Sysinit.run(
      Effect.addFinalizer(() => Effect.sync(() => finalized.push("first"))),
      Effect.addFinalizer(() => Effect.sync(() => finalized.push("second"))),
      ...steps,
      Effect.never
    ))
    for (let i = 0; i < 10; i++) yield* Effect.yieldNow
    return { fiber, finalized }
  })

const awaitEnd = (fiber: Fiber.Fiber<never, unknown>) =>
  Effect.gen(function*() {
    const exit = yield* Fiber.await(fiber)
    assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause), "the run ends only by powering off")
    const kernel = yield* MemoryKernel
    assert.deepStrictEqual(kernel.state.reboots, [Abi.LINUX_REBOOT_CMD_CAD_OFF, Abi.LINUX_REBOOT_CMD_RESTART])
    assert.deepStrictEqual(kernel.calls.map((c) => c.call).slice(-2), ["sync", "reboot"])
  })

describe("shutdown signals", () => {
  it.effect.each(
    [
      { signal: "SIGTERM", code: 143 },
      { signal: "SIGINT", code: 130 },
      { signal: "SIGHUP", code: 129 },
      { signal: "SIGPWR", code: 158 }
    ] as const
  )("$signal ends the run: every finalizer, exit code $code, poweroff", ({ code, signal }) =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      const { fiber, finalized } = yield* startRun(Sysinit.setExitCode(0))
      assert.isTrue(kernel.raise(signal as SignalName), "the init handles the signal")
      yield* awaitEnd(fiber)
      assert.deepStrictEqual(finalized, ["second", "first"])
      assert.deepStrictEqual(yield* exitLines, [`VIRTRUN_EXIT_CODE: ${code}`])
      assert.strictEqual((yield* consoleLines).at(-1), `VIRTRUN_EXIT_CODE: ${code}`)
      assert.isTrue(
        (yield* consoleLines).some((l) => l.includes(`ERROR received ${signal}: run stopped, exit code ${code}`))
      )
    }).pipe(withKernel()))

  it.effect("a signal delivered in the same turn as the empty event loop that follows it wins: exit code 143", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      const { fiber, finalized } = yield* startRun(Sysinit.setExitCode(0))
      // Node reports the empty loop (beforeExit) before it reads the signal's pipe.
      kernel.processFault({ _tag: "EventLoopEmpty" })
      assert.isTrue(kernel.raise("SIGTERM"))
      yield* awaitEnd(fiber)
      assert.deepStrictEqual(finalized, ["second", "first"])
      assert.deepStrictEqual(yield* exitLines, ["VIRTRUN_EXIT_CODE: 143"])
      assert.isFalse((yield* consoleLines).some((l) => l.includes("the event loop is empty")))
    }).pipe(withKernel()))

  it.effect("Ctrl-Alt-Del is switched to a signal before any step runs", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      const { fiber } = yield* startRun()
      const calls = kernel.calls.map((c) => c.call)
      assert.isBelow(calls.indexOf("reboot"), calls.indexOf("mount"))
      assert.deepStrictEqual(kernel.state.reboots, [Abi.LINUX_REBOOT_CMD_CAD_OFF])
      kernel.raise("SIGINT")
      yield* awaitEnd(fiber)
    }).pipe(withKernel()))

  it.effect("a signal before the run or after it is not handled, as the kernel drops it for PID 1", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      assert.isFalse(kernel.raise("SIGTERM"))
      yield* Effect.exit(Sysinit.run(Sysinit.setExitCode(0)))
      assert.isFalse(kernel.raise("SIGTERM"))
      assert.deepStrictEqual(yield* exitLines, ["VIRTRUN_EXIT_CODE: 0"])
    }).pipe(withKernel()))
})

describe("user mistakes", () => {
  it.effect.each<{ name: string; fault: ProcessFault; logged: string }>([
    {
      name: "an exception thrown from a timer",
      fault: { _tag: "UncaughtException", error: new Error("boom") },
      logged: "run failed: uncaught exception: boom"
    },
    {
      name: "an unhandled promise rejection",
      fault: { _tag: "UnhandledRejection", reason: new Error("nope") },
      logged: "run failed: unhandled promise rejection: nope"
    },
    {
      name: "an empty event loop",
      fault: { _tag: "EventLoopEmpty" },
      logged: "run failed: the event loop is empty"
    },
    {
      name: "process.exit(4) with no exit code set",
      fault: { _tag: "ProcessExit", code: 4 },
      logged: "run failed: process.exit(4) was called"
    }
  ])(
    "$name: finalizers run, the error is logged, no exit code line, poweroff",
    ({ fault, logged }) =>
      Effect.gen(function*() {
        const kernel = yield* MemoryKernel
        const { fiber, finalized } = yield* startRun()
        kernel.processFault(fault)
        yield* awaitEnd(fiber)
        assert.deepStrictEqual(finalized, ["second", "first"])
        assert.deepStrictEqual(yield* exitLines, [])
        assert.isTrue(
          (yield* consoleLines).some((l) => l.includes(`ERROR ${logged}`)),
          (yield* consoleLines).join("\n")
        )
      }).pipe(withKernel())
  )

  it.effect("process.exit(n) after an exit code was set is a deliberate exit: n is reported", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      const { fiber, finalized } = yield* startRun(Sysinit.setExitCode(0))
      kernel.processFault({ _tag: "ProcessExit", code: 5 })
      yield* awaitEnd(fiber)
      assert.deepStrictEqual(finalized, ["second", "first"])
      assert.deepStrictEqual(yield* exitLines, ["VIRTRUN_EXIT_CODE: 5"])
    }).pipe(withKernel()))

  it.effect("process.exit inside a step stops the steps as ProcessExitCalled, not as a panic", () =>
    Effect.gen(function*() {
      let after = false
      yield* Effect.exit(Sysinit.run(
        Effect.sync(() => {
          throw new ExitRequest(2)
        }),
        Effect.sync(() => {
          after = true
        })
      ))
      assert.isFalse(after)
      const all = yield* consoleLines
      assert.isTrue(all.some((l) => l.includes("ERROR run failed: process.exit(2) was called")))
      assert.isFalse(all.some((l) => l.includes("panicked")))
      assert.deepStrictEqual(yield* exitLines, [])
    }).pipe(withKernel()))

  it.effect("a step that never finishes ends with RunTimeout at the deadline", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      let finalized = false
      const fiber = yield* Effect.forkChild(Sysinit.runWith(
        { timeout: "30 seconds" },
        Sysinit.setExitCode(0),
        Effect.addFinalizer(() =>
          Effect.sync(() => {
            finalized = true
          })
        ),
        Effect.never
      ))
      yield* TestClock.adjust("29 seconds")
      assert.deepStrictEqual(kernel.state.reboots, [Abi.LINUX_REBOOT_CMD_CAD_OFF])
      yield* TestClock.adjust("1 second")
      yield* awaitEnd(fiber)
      assert.isTrue(finalized)
      assert.deepStrictEqual(yield* exitLines, [])
      assert.isTrue((yield* consoleLines).some((l) => l.includes("ERROR run failed: the run did not end within 30s")))
    }).pipe(withKernel()))
})

describe("orphans", () => {
  it.effect("orphans are reaped at the start and after each SIGCHLD; Node's own children are left to Node", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.addZombie(100)
      kernel.addZombie(101, { spawnedByNode: true })
      const { fiber } = yield* startRun()
      assert.deepStrictEqual(kernel.state.reaped, [100])
      kernel.addZombie(102)
      kernel.addZombie(103)
      assert.isTrue(kernel.raise("SIGCHLD"))
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(kernel.state.reaped, [100, 102, 103])
      assert.deepStrictEqual(kernel.state.zombies, [{ pid: 101, spawnedByNode: true }])
      kernel.raise("SIGTERM")
      yield* awaitEnd(fiber)
    }).pipe(withKernel()))
})

describe("no lost output", () => {
  it.effect("output in flight settles before the finalizers drain and close the host pipes", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      yield* Effect.exit(Sysinit.run(HostPipe.setupHostPipes, Sysinit.setExitCode(0)))
      const calls = kernel.calls.map((c) => c.call)
      assert.isBelow(calls.indexOf("settleOutput"), calls.indexOf("drain"))
      assert.isBelow(calls.lastIndexOf("close"), calls.lastIndexOf("writeStderr"))
      assert.isTrue([...kernel.state.consoles.values()].every((c) => !c.open && c.drained))
      assert.strictEqual((yield* consoleLines).at(-1), "VIRTRUN_EXIT_CODE: 0")
    }).pipe(withKernel()))
})
