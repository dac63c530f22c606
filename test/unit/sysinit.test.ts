import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Abi from "../../src/internal/abi.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import * as Mount from "../../src/Mount.ts"
import * as Sysinit from "../../src/Sysinit.ts"
import { consoleLines, exitLines, withKernel } from "./helpers.ts"

const logLine = /^sysinit \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{6} (INFO |WARN |ERROR|DEBUG) /

/** Runs the init on the in-memory kernel; its reboot returns, so the run ends interrupted. */
const runInit = <const Steps extends ReadonlyArray<Sysinit.Step<unknown, unknown>>>(...steps: Steps) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Sysinit.run(...steps))
    assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause), "the run ends only by powering off")
  })

const assertPoweredOffOnceLast = Effect.gen(function*() {
  const kernel = yield* MemoryKernel
  const restarts = kernel.state.reboots.filter((command) => command !== Abi.LINUX_REBOOT_CMD_CAD_OFF)
  assert.deepStrictEqual(restarts, [Abi.LINUX_REBOOT_CMD_RESTART])
  const calls = kernel.calls.map((c) => c.call)
  assert.deepStrictEqual(calls.slice(-2), ["sync", "reboot"])
})

describe("Sysinit.run", () => {
  it.effect("1. not PID 1: fails with NotPidOne having touched nothing", () =>
    Effect.gen(function*() {
      const stepRan: Array<string> = []
      const error = yield* Effect.flip(Sysinit.run(Effect.sync(() => stepRan.push("step"))))
      assert.strictEqual(error._tag, "NotPidOne")
      assert.strictEqual(error.pid, 42)
      const kernel = yield* MemoryKernel
      assert.deepStrictEqual(kernel.calls.map((c) => c.call), ["getpid"])
      assert.deepStrictEqual(stepRan, [])
      assert.strictEqual(kernel.state.stderr, "")
    }).pipe(withKernel({ pid: 42 })))

  it.effect("2. mounts the essential points first, then runs the steps in order with scope and state", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const kernel = yield* MemoryKernel
      const mark = (name: string) =>
        Effect.sync(() => {
          seen.push(`${name} after ${kernel.state.mounts.length} mounts`)
        })
      yield* runInit(
        mark("a"),
        Effect.addFinalizer(() => mark("finalizer")),
        Mount.withMountPoints({ "/tmp": { fsType: "tmpfs" } }),
        mark("b"),
        Sysinit.setExitCode(0)
      )
      assert.deepStrictEqual(seen, ["a after 3 mounts", "b after 4 mounts", "finalizer after 4 mounts"])
      assert.deepStrictEqual(kernel.state.mounts.map((m) => m.target), ["/dev", "/proc", "/sys", "/tmp"])
      assert.deepStrictEqual(yield* exitLines, ["VIRTRUN_EXIT_CODE: 0"])
      yield* assertPoweredOffOnceLast
    }).pipe(withKernel()))

  it.effect("2. a failing essential mount stops the run before any step, logged, and still powers off", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "mount", errno: "EPERM", path: "/proc" })
      let ran = false
      yield* runInit(
        Effect.sync(() => {
          ran = true
        }),
        Sysinit.setExitCode(0)
      )
      assert.isFalse(ran)
      assert.deepStrictEqual(yield* exitLines, [])
      assert.isTrue((yield* consoleLines).some((l) => l.includes("ERROR run failed: mount \"/proc\": EPERM")))
      yield* assertPoweredOffOnceLast
    }).pipe(withKernel()))

  it.effect("3. the first failing step stops the rest; its error is logged; no exit code line", () =>
    Effect.gen(function*() {
      const ran: Array<number> = []
      yield* runInit(
        Sysinit.setExitCode(0),
        Effect.sync(() => ran.push(1)),
        Effect.fail(new Mount.OptionalMountError({ errors: [] })),
        Effect.sync(() => ran.push(3))
      )
      assert.deepStrictEqual(ran, [1])
      assert.deepStrictEqual(yield* exitLines, [])
      assert.isTrue((yield* consoleLines).some((l) => / ERROR run failed: optional mount points failed/.test(l)))
      yield* assertPoweredOffOnceLast
    }).pipe(withKernel()))

  it.effect.each([
    { name: "a throw", step: Effect.sync(() => JSON.parse("{")) },
    { name: "Effect.die", step: Effect.die(new Error("it broke")) },
    { name: "a bad exit code", step: Sysinit.setExitCode(1.5) }
  ])(
    "3. a defect ($name) becomes Panic, logged with its message, and stops the rest",
    ({ step }) =>
      Effect.gen(function*() {
        let after = false
        yield* runInit(
          Sysinit.setExitCode(0),
          step,
          Effect.sync(() => {
            after = true
          })
        )
        assert.isFalse(after)
        assert.deepStrictEqual(yield* exitLines, [])
        const panic = (yield* consoleLines).find((l) => l.includes("ERROR step panicked: "))
        assert.isDefined(panic)
        yield* assertPoweredOffOnceLast
      }).pipe(withKernel())
  )

  it.effect("3. runSteps fails with a Panic carrying the defect's cause", () =>
    Effect.gen(function*() {
      const defect = new Error("it broke")
      const error = yield* Effect.flip(Sysinit.runSteps(Effect.die(defect)))
      assert.strictEqual(error._tag, "Panic")
      if (error._tag === "Panic") {
        assert.strictEqual(Cause.squash(error.cause), defect)
        assert.strictEqual(error.message, "step panicked: it broke")
      }
    }).pipe(withKernel()))

  it.effect.prop(
    "4. finalizers run in reverse order of registration, all of them, even when some fail",
    [Schema.Array(Schema.Boolean)],
    ([failing]) =>
      Effect.gen(function*() {
        const ran: Array<number> = []
        const steps = failing.map((fails, i) =>
          Effect.addFinalizer(() =>
            Effect.sync(() => ran.push(i)).pipe(
              Effect.andThen(fails ? Effect.die(`finalizer ${i} failed`) : Effect.void)
            )
          )
        )
        yield* runInit(...steps, Sysinit.setExitCode(7))
        assert.deepStrictEqual(ran, failing.map((_, i) => i).toReversed())
        const errors = (yield* consoleLines).filter((l) => l.includes("ERROR cleanup failed"))
        assert.strictEqual(errors.length, failing.some(Boolean) ? 1 : 0)
        for (const [i, fails] of failing.entries()) {
          assert.strictEqual(
            (yield* MemoryKernel).state.stderr.includes(`finalizer ${i} failed`),
            fails,
            `finalizer ${i}'s failure is logged`
          )
        }
        assert.deepStrictEqual(yield* exitLines, ["VIRTRUN_EXIT_CODE: 7"])
      }).pipe(withKernel())
  )

  it.live("4. finalizers run one at a time: each starts once the one registered after it has ended", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      // Finalizers that take time, as closing a pipe or a child does: run together, their starts and ends interleave.
      const slowFinalizer = (name: string) =>
        Effect.addFinalizer(() =>
          Effect.sync(() => events.push(`${name} start`)).pipe(
            Effect.andThen(Effect.sleep("5 millis")),
            Effect.andThen(Effect.sync(() => events.push(`${name} end`)))
          )
        )
      yield* runInit(slowFinalizer("a"), slowFinalizer("b"), slowFinalizer("c"), Sysinit.setExitCode(0))
      assert.deepStrictEqual(events, ["c start", "c end", "b start", "b end", "a start", "a end"])
      assert.deepStrictEqual(yield* exitLines, ["VIRTRUN_EXIT_CODE: 0"])
    }).pipe(withKernel()))

  it.effect.prop(
    "5. the exit code line is printed only when a code was set and nothing failed; a failing finalizer does not suppress it",
    [Schema.Option(Schema.Int), Schema.Boolean, Schema.Boolean, Schema.Boolean],
    ([code, stepFails, stepDies, finalizerFails]) =>
      Effect.gen(function*() {
        yield* runInit(
          Effect.addFinalizer(() => finalizerFails ? Effect.die("cleanup broke") : Effect.void),
          Option.isSome(code) ? Sysinit.setExitCode(code.value) : Effect.void,
          stepFails ? Effect.fail("step failed") : Effect.void,
          stepDies ? Effect.die("step died") : Effect.void
        )
        const expected = Option.isSome(code) && !stepFails && !stepDies ? [`VIRTRUN_EXIT_CODE: ${code.value}`] : []
        assert.deepStrictEqual(yield* exitLines, expected)
        const lines = yield* consoleLines
        if (expected.length > 0) {
          assert.strictEqual(lines.at(-1), expected[0], "the exit code line is the init's last line")
        }
        yield* assertPoweredOffOnceLast
      }).pipe(withKernel())
  )

  it.effect.each([0, 1, 3, 300])("5. exit code %d is reported as set", (code) =>
    Effect.gen(function*() {
      yield* runInit(Sysinit.setExitCode(code))
      assert.deepStrictEqual(yield* exitLines, [`VIRTRUN_EXIT_CODE: ${code}`])
    }).pipe(withKernel()))

  it.effect("5. a run whose steps set no exit code says so as an error, naming the fix", () =>
    Effect.gen(function*() {
      yield* runInit(Effect.void)
      assert.deepStrictEqual(yield* exitLines, [])
      const errors = (yield* consoleLines).filter((line) => / ERROR /.test(line))
      assert.strictEqual(errors.length, 1, errors.join("\n"))
      assert.include(errors[0], "the run ended without an exit code")
      assert.include(errors[0], "end the steps with Sysinit.setExitCode(0)")
    }).pipe(withKernel()))

  it.effect("6. an interrupted run runs its finalizers, prints no exit code and powers off once", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      let finalized = false
      const fiber = yield* Effect.forkChild(Sysinit.run(
        Sysinit.setExitCode(0),
        Effect.addFinalizer(() =>
          Effect.sync(() => {
            finalized = true
          })
        ),
        Effect.never
      ))
      yield* Effect.yieldNow
      assert.deepStrictEqual(kernel.state.reboots, [Abi.LINUX_REBOOT_CMD_CAD_OFF])
      yield* Fiber.interrupt(fiber)
      assert.isTrue(finalized)
      assert.deepStrictEqual(yield* exitLines, [])
      assert.isTrue((yield* consoleLines).some((l) => l.includes("ERROR run interrupted")))
      yield* assertPoweredOffOnceLast
    }).pipe(withKernel()))

  it.effect("6. a failing reboot is logged and the run dies", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "reboot", errno: "EPERM" })
      const exit = yield* Effect.exit(Sysinit.run(Sysinit.setExitCode(0)))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      assert.isTrue((yield* consoleLines).some((l) => l.includes("ERROR poweroff failed")))
    }).pipe(withKernel()))

  it.effect("7. log lines carry the prefix, the time in UTC to the microsecond, no ANSI colours", () =>
    Effect.gen(function*() {
      // The test clock counts whole milliseconds; logger.test.ts checks the microseconds of a finer clock.
      yield* TestClock.setTime(Date.UTC(2026, 10, 27, 8, 53, 12, 123))
      yield* runInit(
        Effect.log("hello", { n: 1 }),
        Mount.withMountPoints({ "/x": { fsType: "nosuchfs", optional: true } }),
        Effect.die(new Error("boom"))
      )
      const lines = (yield* consoleLines).filter((l) => l.startsWith("sysinit "))
      assert.isAtLeast(lines.length, 3)
      for (const line of lines) assert.match(line, logLine)
      for (const line of lines) assert.isTrue(line.startsWith("sysinit 2026/11/27 08:53:12.123000 "), line)
      const stderr = (yield* MemoryKernel).state.stderr
      assert.notInclude(stderr, "\u001b[")
      assert.include(stderr, "INFO  hello { n: 1 }")
      assert.include(stderr, "WARN  optional mount failed: mount \"/x\": ENODEV")
    }).pipe(withKernel()))
})

describe("Sysinit operations", () => {
  it.effect("isPidOne reads the pid", () =>
    Effect.gen(function*() {
      assert.isTrue(yield* Sysinit.isPidOne)
    }).pipe(withKernel({ pid: 1 })))

  it.effect("isPidOne is false elsewhere", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* Sysinit.isPidOne)
    }).pipe(withKernel({ pid: 2 })))

  it.effect("poweroff syncs, then restarts", () =>
    Effect.gen(function*() {
      yield* Sysinit.poweroff
      yield* assertPoweredOffOnceLast
      assert.deepStrictEqual((yield* MemoryKernel).calls.map((c) => c.call), ["sync", "reboot"], "and nothing else")
    }).pipe(withKernel()))
})
