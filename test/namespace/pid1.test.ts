/**
 * PID 1's duties on the live kernel, as the init of fresh namespaces: what
 * the parent sees of each signal, orphan and user mistake.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type PidOneRun, program, runAsPidOne, userNamespaces } from "./harness.ts"

const duty = (...args: ReadonlyArray<string>) => runAsPidOne(program("pid1Duties.ts"), args)

const lines = (text: string): Array<string> => text.split("\n").filter((line) => line !== "")

/** Every finalizer ran, in reverse order, and the init powered off (SIGHUP in a PID namespace). */
const assertOrderlyEnd = (run: PidOneRun) => {
  assert.deepStrictEqual(lines(run.stdout).filter((l) => l.startsWith("finalizer")), ["finalizer 2", "finalizer 1"])
  assert.deepStrictEqual({ signal: run.signal, exitCode: run.exitCode }, { signal: "SIGHUP", exitCode: null })
}

describe.skipIf(!userNamespaces.available)("PID 1 duties on the live kernel", () => {
  it.effect.each([
    { signal: "SIGTERM", number: 15 },
    { signal: "SIGINT", number: 2 },
    { signal: "SIGHUP", number: 1 },
    { signal: "SIGPWR", number: 30 }
  ])(
    "$signal sent to PID 1: finalizers run, exit code 128+$number, poweroff",
    ({ number, signal }) =>
      Effect.map(duty("signal", String(number)), (run) => {
        assertOrderlyEnd(run)
        const stderr = lines(run.stderr)
        assert.include(run.stderr, `ERROR received ${signal}: run stopped, exit code ${128 + number}`)
        assert.strictEqual(stderr.at(-1), `VIRTRUN_EXIT_CODE: ${128 + number}`)
      })
  )

  it.effect.each([
    { scenario: "signal to itself, then wait", when: "from a step" },
    { scenario: "signal to itself from the loop's last callback, then wait", when: "as the event loop empties" }
  ])(
    "a SIGTERM the init sends itself $when, before waiting on nothing, is not lost: exit code 143",
    ({ scenario }) =>
      Effect.map(duty(scenario), (run) => {
        assertOrderlyEnd(run)
        assert.include(run.stderr, "ERROR received SIGTERM: run stopped, exit code 143")
        assert.notInclude(run.stderr, "the event loop is empty")
        assert.strictEqual(lines(run.stderr).at(-1), "VIRTRUN_EXIT_CODE: 143")
      })
  )

  it.effect(
    "orphans of a double-forking shell are reaped, while 50 children of node:child_process and 50 of Effect's ChildProcess report their true exit codes",
    () =>
      Effect.map(duty("orphans"), (run) => {
        const result = lines(run.stdout).find((line) => line.startsWith("RESULT "))
        assert.isDefined(result, run.stderr)
        assert.deepStrictEqual(JSON.parse(result!.slice("RESULT ".length)), {
          orphansSpawned: 0,
          nodeCodesTrue: true,
          effectCodesTrue: true,
          zombies: []
        })
        assertOrderlyEnd(run)
        assert.strictEqual(lines(run.stderr).at(-1), "VIRTRUN_EXIT_CODE: 0")
      }),
    { timeout: 30_000 }
  )

  it.effect.each([
    { scenario: "uncaught exception", logged: "ERROR run failed: uncaught exception: thrown from a timer" },
    { scenario: "unhandled rejection", logged: "ERROR run failed: unhandled promise rejection: nobody handles this" },
    { scenario: "process.exit", logged: "ERROR run failed: process.exit(3) was called" },
    { scenario: "empty event loop", logged: "ERROR run failed: the event loop is empty but the run still waits" },
    { scenario: "timeout", logged: "ERROR run failed: the run did not end within 1s" }
  ])(
    "$scenario: finalizers run, the error is logged, no exit code line, poweroff, no crash",
    ({ logged, scenario }) =>
      Effect.map(duty(scenario), (run) => {
        assertOrderlyEnd(run)
        assert.include(run.stderr, logged)
        assert.notInclude(run.stderr, "VIRTRUN_EXIT_CODE")
      })
  )

  it.effect("process.exit(5) after an exit code was set ends the run deliberately with 5", () =>
    Effect.map(duty("process.exit after an exit code"), (run) => {
      assertOrderlyEnd(run)
      assert.notInclude(run.stdout, "after process.exit")
      assert.strictEqual(lines(run.stderr).at(-1), "VIRTRUN_EXIT_CODE: 5")
    }))
})
