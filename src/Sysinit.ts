/**
 * The init itself: run setup and user steps as PID 1, clean up, report the
 * exit code to the host and power off.
 *
 * @since 0.1.0
 */
import { Cause, Data, Effect, Exit, Logger, Option, Ref, Scope } from "effect"
import * as Abi from "./internal/abi.ts"
import { ExitRequest } from "./internal/exitRequest.ts"
import * as SysinitLogger from "./internal/logger.ts"
import { essentialMountPoints, mountAll, type OptionalMountError } from "./Mount.ts"
import { NodeProcess } from "./NodeProcess.ts"
import * as Pid1 from "./Pid1.ts"
import { ProcessExitCalled } from "./Pid1.ts"
import { formatExitCode } from "./protocol/exitCode.ts"
import { markRunEntered } from "./protocol/initLog.ts"
import * as RunState from "./State.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * The process is not PID 1, so it is not the init of a machine: `run`
 * refuses to touch anything.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotPidOne extends Data.TaggedError("NotPidOne")<{ readonly pid: number }> {
  override get message(): string {
    return `process has PID ${this.pid}, not 1: the init must be the first process of the machine`
  }
}

/**
 * A step threw or died; `cause` holds the defect and where it came from.
 *
 * @since 0.1.0
 * @category errors
 */
export class Panic extends Data.TaggedError("Panic")<{ readonly cause: Cause.Cause<unknown> }> {
  override get message(): string {
    const defect = Cause.squash(this.cause)
    return `step panicked: ${defect instanceof Error ? defect.message : String(defect)}`
  }
}

/**
 * A step of `run`: an Effect that may register finalizers in the run's
 * `Scope` and use its `State` (e.g. `setExitCode`).
 *
 * @since 0.1.0
 * @category models
 */
export type Step<E = never, R = never> = Effect.Effect<unknown, E, R>

// Steps of any error and requirements; run's signature computes both from the steps given (with `unknown`,
// the steps' own types would be lost inside it).
// oxlint-disable-next-line typescript/no-explicit-any
type AnySteps = ReadonlyArray<Step<any, any>>
type StepsError<Steps extends AnySteps> = Effect.Error<Steps[number]>
type StepsServices<Steps extends AnySteps> = Exclude<Effect.Services<Steps[number]>, Scope.Scope | RunState.State>

/**
 * Whether this process is PID 1.
 *
 * @since 0.1.0
 * @category operations
 */
export const isPidOne: Effect.Effect<boolean, never, Syscalls> = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  return (yield* syscalls.getpid) === 1
})

/**
 * Syncs file systems and restarts the machine (reboot(2) with
 * `LINUX_REBOOT_CMD_RESTART`): QEMU runs with `-no-reboot`, so a restart
 * ends it without ACPI. In a PID namespace it ends that namespace's PID 1
 * with SIGHUP instead.
 *
 * @since 0.1.0
 * @category operations
 */
export const poweroff: Effect.Effect<void, SyscallError, Syscalls> = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  yield* syscalls.sync
  yield* syscalls.reboot(Abi.LINUX_REBOOT_CMD_RESTART)
})

/**
 * Sets the exit code that `run` reports when nothing fails. It must be an
 * integer; it may be above 255.
 *
 * @since 0.1.0
 * @category operations
 */
export const setExitCode = (code: number): Effect.Effect<void, never, RunState.State> =>
  Number.isSafeInteger(code)
    ? Effect.gen(function*() {
      const state = yield* RunState.State
      yield* Ref.set(state.exitCode, Option.some(code))
    })
    : Effect.die(new RangeError(`exit code must be an integer, got ${code}`))

/**
 * The line the host reads on console 0 to learn the exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exitCodeLine: (code: number) => string = formatExitCode

const panicOnDefect = <A, E, R>(step: Effect.Effect<A, E, R>): Effect.Effect<A, E | Panic | ProcessExitCalled, R> =>
  Effect.catchCause(step, (cause): Effect.Effect<never, E | Panic | ProcessExitCalled> => {
    if (!Cause.hasDies(cause)) return Effect.failCause(cause)
    const defect = Cause.squash(cause)
    return Effect.fail(
      defect instanceof ExitRequest ? new ProcessExitCalled({ code: defect.code }) : new Panic({ cause })
    )
  })

type RunError<Steps extends AnySteps> =
  | StepsError<Steps>
  | SyscallError
  | OptionalMountError
  | Panic
  | ProcessExitCalled

const runStepsWith = <const Steps extends AnySteps>(
  state: RunState.StateShape,
  steps: Steps
): Effect.Effect<Option.Option<number>, RunError<Steps>, Syscalls | NodeProcess | StepsServices<Steps>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const scope = yield* Scope.make()
      const body = Effect.gen(function*() {
        yield* mountAll(essentialMountPoints())
        for (const step of steps) yield* panicOnDefect(step)
      }).pipe(
        Effect.provideService(RunState.State, state),
        Scope.provide(scope)
      )
      const exit = yield* Effect.exit(restore(body))
      // Writes a step left in flight go out before the finalizers drain and close the pipes.
      yield* nodeProcess.settleOutput
      const closed = yield* Effect.exit(Scope.close(scope, exit))
      if (Exit.isFailure(closed)) yield* Effect.logError("cleanup failed", closed.cause)
      yield* exit
      return yield* Ref.get(state.exitCode)
    })
  )

/**
 * The heart of `run`, without the PID check, the supervision, the report
 * and the poweroff: mounts the essential file systems, runs the steps in
 * order until one fails, waits for the output they left in flight, then
 * runs every finalizer they registered (in reverse order, all of them; a
 * failing one is logged) and returns the exit code that was set. A defect in
 * a step becomes `Panic`.
 *
 * @example
 * ```ts
 * import { Console, Effect, Option } from "effect"
 * import { Layer, Sysinit } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   const code = yield* Sysinit.runSteps(
 *     Effect.addFinalizer(() => Console.log("cleaned up")),
 *     Console.log("hello"),
 *     Sysinit.setExitCode(3)
 *   )
 *   const kernel = yield* Layer.MemoryKernel
 *   console.log(`exit code ${Option.getOrThrow(code)}, ${kernel.state.mounts.length} mounts`)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: hello
 * // prints: cleaned up
 * // prints: exit code 3, 3 mounts
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runSteps = <const Steps extends AnySteps>(
  ...steps: Steps
): Effect.Effect<Option.Option<number>, RunError<Steps>, Syscalls | NodeProcess | StepsServices<Steps>> =>
  Effect.flatMap(RunState.make, (state) => runStepsWith(state, steps))

/**
 * Options of `runWith`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions extends Pid1.SuperviseOptions {}

const errorOf = (cause: Cause.Cause<unknown>): unknown => {
  const failure = cause.reasons.find(Cause.isFailReason)
  return failure === undefined ? undefined : failure.error
}

const describeFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.logError("run interrupted")
  const error = Cause.squash(cause)
  if (error instanceof Panic) return Effect.logError(error.message, error.cause)
  if (Cause.hasDies(cause)) return Effect.logError("run died", cause)
  return Effect.logError(`run failed: ${error instanceof Error ? error.message : String(error)}`)
}

/**
 * What the host learns of a run: the exit code to report, if any, after
 * logging how the run ended.
 */
const reportedExitCode = (
  exit: Exit.Exit<Option.Option<number>, unknown>,
  state: RunState.StateShape
): Effect.Effect<Option.Option<number>> =>
  Effect.gen(function*() {
    if (Exit.isSuccess(exit)) {
      if (Option.isNone(exit.value)) {
        yield* Effect.logError(
          "the run ended without an exit code: no step called Sysinit.setExitCode; end the steps with Sysinit.setExitCode(0)"
        )
      }
      return exit.value
    }
    const error = errorOf(exit.cause)
    if (error instanceof Pid1.Signalled) {
      yield* Effect.logError(`${error.message}: run stopped, exit code ${error.exitCode}`)
      return Option.some(error.exitCode)
    }
    if (error instanceof ProcessExitCalled && Option.isSome(yield* Ref.get(state.exitCode))) {
      yield* Effect.logWarning(`${error.message} after an exit code was set: ending the run with ${error.code}`)
      return Option.some(error.code)
    }
    yield* describeFailure(exit.cause)
    return Option.none()
  })

/**
 * Runs the init: the program of a machine's PID 1. Fails with `NotPidOne`,
 * having touched nothing, when the process is not PID 1. Otherwise it runs
 * the steps (`runSteps`) under PID 1's duties (`Pid1.supervise`: shutdown
 * signals, orphans, process faults), logs how the run ended, prints
 * `VIRTRUN_EXIT_CODE: <n>` on console 0 when there is an exit code to
 * report, and powers off, exactly once, whatever happened, also when
 * interrupted. It never returns (with the in-memory kernel, whose reboot
 * returns, it ends interrupted).
 *
 * The exit code reported: the one set with `setExitCode` when nothing
 * failed; `128 + N` after shutdown signal N; `n` after `process.exit(n)` if
 * an exit code had been set before (a deliberate exit); none otherwise.
 *
 * Log lines go to console 0 as `sysinit 2026/11/27 08:53:12.123456 LEVEL message`.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { Layer, Mount, Sysinit } from "effect-sysinit"
 *
 * // The module of /init, without Init.main and its extras (Node's services, stdout on console 1).
 * Effect.runFork(
 *   Sysinit.run(
 *     Mount.withMountPoints(Mount.systemMountPoints()),
 *     Effect.addFinalizer(() => Console.log("finalizers run before the exit code is reported")),
 *     Console.log("hello from PID 1"),
 *     Sysinit.setExitCode(0)
 *   ).pipe(Effect.provide(Layer.live))
 * )
 * // prints: hello from PID 1
 * // prints: finalizers run before the exit code is reported
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <const Steps extends AnySteps>(
  ...steps: Steps
): Effect.Effect<never, NotPidOne, Syscalls | NodeProcess | StepsServices<Steps>> => runWith({}, ...steps)

/**
 * `run` with options: `timeout`, a deadline for the whole run, past which it
 * ends with `Pid1.RunTimeout`.
 *
 * @since 0.1.0
 * @category running
 */
export const runWith = <const Steps extends AnySteps>(
  options: RunOptions,
  ...steps: Steps
): Effect.Effect<never, NotPidOne, Syscalls | NodeProcess | StepsServices<Steps>> =>
  Effect.gen(function*() {
    markRunEntered()
    const syscalls = yield* Syscalls
    const nodeProcess = yield* NodeProcess
    const pid = yield* syscalls.getpid
    if (pid !== 1) return yield* new NotPidOne({ pid })

    const logger = SysinitLogger.make((line) => Effect.runSync(nodeProcess.writeStderr(line)))
    const state = yield* RunState.make
    const shutdown = Effect.gen(function*() {
      // Console 0 is the kernel's; let what the init wrote there leave the UART before the machine stops.
      yield* Effect.ignore(syscalls.drain(2))
      yield* poweroff
    }).pipe(
      Effect.catchCause((cause) => Effect.logError("poweroff failed", cause).pipe(Effect.andThen(Effect.die(cause))))
    )
    yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const supervised = Effect.gen(function*() {
          yield* Pid1.catchCtrlAltDel
          const interrupted = yield* Pid1.supervise(options)
          return yield* Effect.raceFirst(runStepsWith(state, steps), interrupted)
        })
        const exit = yield* Effect.exit(restore(Effect.scoped(supervised)))
        const code = yield* reportedExitCode(exit, state)
        if (Option.isSome(code)) yield* nodeProcess.writeStderr(formatExitCode(code.value))
        yield* shutdown
      })
    ).pipe(Effect.provide(Logger.layer([logger])))
    return yield* Effect.interrupt
  })
