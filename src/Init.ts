/**
 * The one line of a user's `/init`: `Init.main(...steps)` runs
 * `Sysinit.run` on the live kernel with Node's platform services.
 *
 * @since 0.1.0
 */
import type * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, type Fiber, type Scope } from "effect"
import * as InitNodeServices from "./internal/nodeServices.ts"
import * as SysinitLayer from "./Layer.ts"
import type { State } from "./State.ts"
import type { Syscalls } from "./Syscalls.ts"
import * as Sysinit from "./Sysinit.ts"

/**
 * What a step of `main` may use: the run's scope and state, the kernel, and
 * Node's FileSystem, Path, ChildProcessSpawner, Stdio and Terminal.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = Scope.Scope | State | Syscalls | NodeServices.NodeServices

/**
 * Runs the steps (and `Sysinit.RunOptions` after them) as the init of this machine: `Sysinit.run` with
 * `Layer.live` and Node's platform services (`NodeServices`; its Terminal is
 * made on first use). When the process is not PID 1, or
 * the live kernel cannot be loaded, it says why on stderr and leaves with
 * exit code 1, having changed nothing.
 *
 * @example
 * ```ts
 * import { Init, Mount, Sysinit } from "effect-sysinit"
 * import { Console } from "effect"
 *
 * Init.main(Mount.withMountPoints(Mount.systemMountPoints()), Console.log("hello"), Sysinit.setExitCode(0))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const main = <const Args extends ReadonlyArray<Sysinit.Step<unknown, Services> | Sysinit.RunOptions>>(
  ...args: Args
): Fiber.Fiber<void> =>
  Effect.runFork(
    Sysinit.run(...args).pipe(
      Effect.provide(SysinitLayer.live),
      Effect.provide(InitNodeServices.layer),
      Effect.catch((error) =>
        Effect.sync(() => {
          process.stderr.write(`sysinit: ${error.message}\n`)
          process.exitCode = 1
        })
      )
    ) as Effect.Effect<void>
  )
