/**
 * What PID 1 owes the machine, and Node does not do by default: reap
 * orphans, act on shutdown signals, and turn what would end the process (and
 * so panic the kernel) into an orderly end of the run.
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect, Option, Queue } from "effect"
import type { Scope } from "effect"
import * as os from "node:os"
import * as Abi from "./internal/abi.ts"
import { NodeProcess, type ProcessFault, type SignalName } from "./NodeProcess.ts"
import { type ReapedChild, Syscalls } from "./Syscalls.ts"

/**
 * The signals that end a run: SIGTERM and SIGINT (also what Ctrl-Alt-Del
 * sends once `catchCtrlAltDel` ran), SIGHUP, and SIGPWR (a power failure).
 *
 * @since 0.1.0
 * @category constants
 */
export const shutdownSignals: ReadonlyArray<SignalName> = ["SIGTERM", "SIGINT", "SIGHUP", "SIGPWR"]

/**
 * The init received a shutdown signal. The run reports `128 + number`.
 *
 * @since 0.1.0
 * @category errors
 */
export class Signalled extends Data.TaggedError("Signalled")<{ readonly signal: SignalName }> {
  get number(): number {
    return os.constants.signals[this.signal]
  }
  get exitCode(): number {
    return 128 + this.number
  }
  override get message(): string {
    return `received ${this.signal}`
  }
}

/**
 * The run did not end within its `timeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RunTimeout extends Data.TaggedError("RunTimeout")<{ readonly timeout: Duration.Duration }> {
  override get message(): string {
    return `the run did not end within ${Duration.format(this.timeout)}`
  }
}

/**
 * Something threw outside any Effect (in a timer or a callback) and nobody
 * caught it.
 *
 * @since 0.1.0
 * @category errors
 */
export class UncaughtException extends Data.TaggedError("UncaughtException")<{ readonly error: unknown }> {
  override get message(): string {
    return `uncaught exception: ${describe(this.error)}`
  }
}

/**
 * A promise was rejected and nobody handled it.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnhandledRejection extends Data.TaggedError("UnhandledRejection")<{ readonly reason: unknown }> {
  override get message(): string {
    return `unhandled promise rejection: ${describe(this.reason)}`
  }
}

/**
 * User code called `process.exit(code)`, which as PID 1 would panic the
 * kernel. The run ends instead; see `Sysinit.run` for what it reports.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProcessExitCalled extends Data.TaggedError("ProcessExitCalled")<{ readonly code: number }> {
  override get message(): string {
    return `process.exit(${this.code}) was called`
  }
}

/**
 * The event loop ran out of work while the run still waited (e.g. on a
 * promise nothing will ever settle): Node would exit, and PID 1 must not.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventLoopEmpty extends Data.TaggedError("EventLoopEmpty")<{}> {
  override get message(): string {
    return "the event loop is empty but the run still waits: nothing is left that could end it"
  }
}

/**
 * Whatever ends a run from outside its steps.
 *
 * @since 0.1.0
 * @category errors
 */
export type Interruption =
  | Signalled
  | RunTimeout
  | UncaughtException
  | UnhandledRejection
  | ProcessExitCalled
  | EventLoopEmpty

const describe = (value: unknown): string => value instanceof Error ? value.message : String(value)

/**
 * The typed error of a process fault.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromProcessFault = (fault: ProcessFault): Interruption => {
  switch (fault._tag) {
    case "UncaughtException":
      return new UncaughtException({ error: fault.error })
    case "UnhandledRejection":
      return new UnhandledRejection({ reason: fault.reason })
    case "ProcessExit":
      return new ProcessExitCalled({ code: fault.code })
    case "EventLoopEmpty":
      return new EventLoopEmpty()
  }
}

/**
 * Makes Ctrl-Alt-Del send SIGINT to PID 1 instead of rebooting at once.
 *
 * @since 0.1.0
 * @category operations
 */
export const catchCtrlAltDel: Effect.Effect<void, never, Syscalls> = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  yield* syscalls.reboot(Abi.LINUX_REBOOT_CMD_CAD_OFF).pipe(
    Effect.catch((error) => Effect.logWarning(`Ctrl-Alt-Del stays a hard reboot: ${error.message}`))
  )
})

/**
 * Reaps the zombie children of the init, until none is left: orphans the
 * kernel gave to PID 1, but never a child Node spawned itself, which libuv
 * waits for by pid (reaping it here would steal its exit status, and Node
 * would never report it). Returns what it reaped.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Pid1 } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   const kernel = yield* Layer.MemoryKernel
 *   kernel.addZombie(41) // orphans the kernel gave to PID 1
 *   kernel.addZombie(42)
 *   kernel.addZombie(43, { spawnedByNode: true }) // Node's own child: libuv waits for it by pid
 *   const reaped = yield* Pid1.reapZombies
 *   console.log(`reaped ${reaped.map((child) => child.pid).join(" ")}`)
 *   console.log(`left to Node ${kernel.state.zombies.map((zombie) => zombie.pid).join(" ")}`)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: reaped 41 42
 * // prints: left to Node 43
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const reapZombies: Effect.Effect<ReadonlyArray<ReapedChild>, never, Syscalls | NodeProcess> = Effect.gen(
  function*() {
    const syscalls = yield* Syscalls
    const nodeProcess = yield* NodeProcess
    const reaped: Array<ReapedChild> = []
    // A scan that reaps nothing ends it: what is left exited between the scan and the wait, or is not ours.
    for (let progress = true; progress;) {
      progress = false
      const spawnedByNode = yield* nodeProcess.spawnedChildren
      for (const pid of yield* syscalls.zombieChildren) {
        if (spawnedByNode.has(pid)) continue
        const child = yield* Effect.orElseSucceed(syscalls.waitpid(pid), () => undefined)
        if (child === undefined) continue
        reaped.push(child)
        progress = true
      }
    }
    return reaped
  }
)

/**
 * Reaps orphans for as long as the scope is open: once at the start, then
 * again after every SIGCHLD until none is left (signals that arrive
 * together merge into one).
 *
 * @since 0.1.0
 * @category operations
 */
export const reapOrphans: Effect.Effect<void, never, Syscalls | NodeProcess | Scope.Scope> = Effect.gen(function*() {
  const nodeProcess = yield* NodeProcess
  const childExited = yield* nodeProcess.signals(["SIGCHLD"])
  yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
    yield* reapZombies
    yield* Queue.take(childExited)
    yield* Queue.clear(childExited)
  })))
})

/**
 * Options of a supervised run.
 *
 * @since 0.1.0
 * @category models
 */
export interface SuperviseOptions {
  /** A deadline for the whole run; past it the run ends with `RunTimeout`. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Handles shutdown signals and process faults, and reaps orphans, for as
 * long as the scope is open. Returns an Effect that fails with the first
 * `Interruption`: race it against the work it guards.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Pid1 } from "effect-sysinit"
 *
 * const work = Effect.never // the steps of a run, which a shutdown signal must stop
 *
 * const program = Effect.gen(function*() {
 *   const interrupted = yield* Pid1.supervise({ timeout: "1 minute" })
 *   const kernel = yield* Layer.MemoryKernel
 *   kernel.raise("SIGTERM")
 *   const reason = yield* Effect.flip(Effect.raceFirst(work, interrupted))
 *   console.log(reason.message, reason._tag === "Signalled" ? reason.exitCode : "")
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Layer.memory())))
 * // prints: received SIGTERM 143
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const supervise = (
  options: SuperviseOptions = {}
): Effect.Effect<Effect.Effect<never, Interruption>, never, Syscalls | NodeProcess | Scope.Scope> =>
  Effect.gen(function*() {
    const nodeProcess = yield* NodeProcess
    const signals = yield* nodeProcess.signals(shutdownSignals)
    const faults = yield* nodeProcess.processFaults
    yield* reapOrphans
    const watchers: Array<Effect.Effect<never, Interruption>> = [
      Effect.flatMap(Queue.take(signals), (signal) => Effect.fail(new Signalled({ signal }))),
      Effect.flatMap(Queue.take(faults), (fault) =>
        // A signal already delivered wins over the empty loop that followed it: Node's signal handles do not
        // keep the loop alive, so "kill 1, then wait" empties it in the same turn.
        fault._tag === "EventLoopEmpty"
          ? Effect.flatMap(Queue.poll(signals), (signal) =>
            Effect.fail(Option.isSome(signal) ? new Signalled({ signal: signal.value }) : fromProcessFault(fault)))
          : Effect.fail(fromProcessFault(fault)))
    ]
    if (options.timeout !== undefined) {
      const timeout = Duration.fromInputUnsafe(options.timeout)
      watchers.push(Effect.andThen(Effect.sleep(timeout), Effect.fail(new RunTimeout({ timeout }))))
    }
    return watchers.reduce((a, b) => Effect.raceFirst(a, b))
  })
