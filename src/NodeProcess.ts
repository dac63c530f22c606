/**
 * What the init needs of its own Node process, beside the kernel: the
 * environment, signal handlers, the faults that would end the process (and,
 * as PID 1, panic the kernel), the children Node spawned itself, and its
 * stdout and stderr. `Layer.live` hooks into Node's `process`; `Layer.memory`
 * gives a fake that tests drive.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { Effect, Queue, Scope } from "effect"
import type { SyscallError } from "./Syscalls.ts"

/**
 * A signal the init handles.
 *
 * @since 0.1.0
 * @category models
 */
export type SignalName = "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGPWR" | "SIGCHLD"

/**
 * Something the process did that would end or hang a Node program, seen by
 * the init instead: a throw nobody caught, a promise rejection nobody
 * handled, a call of `process.exit`, or an event loop with nothing left to
 * wait for.
 *
 * @since 0.1.0
 * @category models
 */
export type ProcessFault =
  | { readonly _tag: "UncaughtException"; readonly error: unknown }
  | { readonly _tag: "UnhandledRejection"; readonly reason: unknown }
  | { readonly _tag: "ProcessExit"; readonly code: number }
  | { readonly _tag: "EventLoopEmpty" }

/**
 * A program to start as a child of the init.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildRequest {
  /** A path, or a name looked up in the child's `PATH`. */
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** The child's working directory; the init's own when undefined. */
  readonly cwd?: string | undefined
  /** The child's whole environment; the init's own when undefined. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Descriptors of the init given to the child: stdin (`/dev/null` when undefined), stdout and stderr. */
  readonly stdin?: number | undefined
  readonly stdout: number
  readonly stderr: number
}

/**
 * How a child ended: it exited with a code, or a signal killed it.
 *
 * @since 0.1.0
 * @category models
 */
export type ChildEnd =
  | { readonly _tag: "Exited"; readonly code: number }
  | { readonly _tag: "Killed"; readonly signal: string }

/**
 * The hooks into the init's Node process.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeProcessShape {
  /** A variable of the process's environment (the kernel gives init those of its command line). */
  readonly getEnv: (name: string) => Effect.Effect<string | undefined>
  /** Sets a variable of the process, seen by `process.env` and by children spawned afterwards. */
  readonly setEnv: (name: string, value: string) => Effect.Effect<void, SyscallError>
  /**
   * Handles the signals for the scope's lifetime and queues each one that
   * arrives. As PID 1 the kernel delivers only signals that have a handler.
   */
  readonly signals: (names: ReadonlyArray<SignalName>) => Effect.Effect<Queue.Dequeue<SignalName>, never, Scope.Scope>
  /**
   * Catches what would otherwise end the process for the scope's lifetime,
   * and queues it. `process.exit` throws after queueing, so the code after
   * it does not run.
   */
  readonly processFaults: Effect.Effect<Queue.Dequeue<ProcessFault>, never, Scope.Scope>
  /**
   * The pids of the children Node spawned itself (`node:child_process`, and
   * so Effect's `ChildProcess`) that Node has not yet seen exit. libuv waits
   * for exactly these: anyone else who reaps one steals its exit status.
   */
  readonly spawnedChildren: Effect.Effect<ReadonlySet<number>>
  /** Waits until the writes the process has in flight (streams, fs promises) are done. */
  readonly settleOutput: Effect.Effect<void>
  /** Writes to the init's stderr, the kernel console (console 0), synchronously. */
  readonly writeStderr: (text: string) => Effect.Effect<void>
  /**
   * Sends what the process writes to stdout (`process.stdout`, `console.log`,
   * Effect's `Console`) to the descriptor, or back to the original stdout
   * when `fd` is undefined.
   */
  readonly redirectStdout: (fd: number | undefined) => Effect.Effect<void>
  /**
   * Starts a program as a child of the process and waits for its end. A
   * program that cannot be started (missing, not executable) fails with the
   * errno of exec; when the wait is interrupted, the child is killed with
   * SIGKILL and waited for. Node tracks the child, so the PID 1 reaper leaves
   * it alone.
   */
  readonly runChild: (request: ChildRequest) => Effect.Effect<ChildEnd, SyscallError>
}

/**
 * The init's Node process.
 *
 * @example
 * ```ts
 * import { Effect, Queue } from "effect"
 * import { Layer, NodeProcess } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   const nodeProcess = yield* NodeProcess.NodeProcess
 *   const signals = yield* nodeProcess.signals(["SIGTERM"]) // handled until the scope closes
 *   const kernel = yield* Layer.MemoryKernel
 *   kernel.raise("SIGTERM") // what `kill 1` does on the live machine
 *   console.log(yield* Queue.take(signals))
 *   yield* nodeProcess.setEnv("TERM", "dumb")
 *   console.log(kernel.state.env.get("TERM"))
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Layer.memory())))
 * // prints: SIGTERM
 * // prints: dumb
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class NodeProcess extends Context.Service<NodeProcess, NodeProcessShape>()("effect-sysinit/NodeProcess") {}
