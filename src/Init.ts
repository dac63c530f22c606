/**
 * The one line of a user's `/init`: `Init.main(...steps)` runs
 * `Sysinit.run` on the live kernel with Node's platform services.
 *
 * @since 0.1.0
 */
import type * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, type Fiber, type Scope } from "effect"
import * as HostPipe from "./HostPipe.ts"
import * as InitNodeServices from "./internal/nodeServices.ts"
import * as SysinitLayer from "./Layer.ts"
import type { NodeProcess } from "./NodeProcess.ts"
import type { State } from "./State.ts"
import type { Syscalls } from "./Syscalls.ts"
import * as Sysinit from "./Sysinit.ts"

/**
 * What a step of `main` may use: the run's scope and state, the kernel, the
 * init's process, and Node's FileSystem, Path, ChildProcessSpawner, Stdio
 * and Terminal.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = Scope.Scope | State | Syscalls | NodeProcess | NodeServices.NodeServices

/**
 * Options of `mainWith`: those of `Sysinit.runWith`, and whether stdout goes
 * to the host's console 1.
 *
 * @since 0.1.0
 * @category models
 */
export interface MainOptions extends Sysinit.RunOptions {
  /**
   * Send stdout to its own host pipe (console 1) whenever the host connected
   * one, before the first step (`HostPipe.withStdoutHostPipeWhenConnected`).
   * `true` by default; with `false`, stdout is the kernel console unless a
   * step says otherwise.
   */
  readonly stdoutHostPipe?: boolean | undefined
}

/**
 * Runs the steps as the init of this machine: `Sysinit.run` with
 * `Layer.live` and Node's platform services (`NodeServices`; its Terminal is
 * made on first use), stdout on the host's console 1 when there is one.
 * When the process is not PID 1, or the live kernel cannot be loaded, it
 * says why on stderr and leaves with exit code 1, having changed nothing.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Init, Mount, Sysinit } from "effect-sysinit"
 *
 * Init.main(Mount.withMountPoints(Mount.systemMountPoints()), Console.log("hello"), Sysinit.setExitCode(0))
 * // prints: hello
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const main = (...steps: ReadonlyArray<Sysinit.Step<unknown, Services>>): Fiber.Fiber<void> =>
  mainWith({}, ...steps)

/**
 * `main` with options (`timeout`, `stdoutHostPipe`).
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Init, Sysinit } from "effect-sysinit"
 *
 * // A run of at most a minute, its stdout left on the kernel's console (console 0).
 * Init.mainWith({ timeout: "1 minute", stdoutHostPipe: false }, Console.log("on console 0"), Sysinit.setExitCode(0))
 * // prints: on console 0
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const mainWith = (
  options: MainOptions,
  ...steps: ReadonlyArray<Sysinit.Step<unknown, Services>>
): Fiber.Fiber<void> => {
  const first = options.stdoutHostPipe === false ? [] : [HostPipe.withStdoutHostPipeWhenConnected]
  return Effect.runFork(
    Sysinit.runWith(options, ...first, ...steps).pipe(
      Effect.provide(SysinitLayer.live),
      Effect.provide(InitNodeServices.layer),
      Effect.catch((error) =>
        Effect.sync(() => {
          process.stderr.write(`sysinit: ${error.message}\n`)
          process.exitCode = 1
        })
      )
    )
  )
}
