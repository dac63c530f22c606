/**
 * A whole `Sysinit.run` as PID 1 on the live kernel. The mode on the command
 * line picks the steps and the kernel:
 * - `live`: the live kernel as it is; a user namespace refuses devtmpfs on /dev.
 * - `devtmpfs as tmpfs`: the live kernel with tmpfs standing in for devtmpfs,
 *   so that the run gets past its essential mounts and runs every step.
 * - `failing step`: as above, with a step that fails after an exit code was set.
 */
import { Console, Effect } from "effect"
import * as Env from "../../../src/Env.ts"
import { live } from "../../../src/Layer.ts"
import * as Mount from "../../../src/Mount.ts"
import * as Network from "../../../src/Network.ts"
import * as Symlink from "../../../src/Symlink.ts"
import * as Sysinit from "../../../src/Sysinit.ts"
import { devtmpfsAsTmpfs } from "./standIns.ts"

const finalizer = (name: string) => Effect.addFinalizer(() => Console.log(`finalizer ${name}`))

const runs: Readonly<Record<string, Effect.Effect<never, unknown>>> = {
  live: Sysinit.run(Console.log("step ran"), Sysinit.setExitCode(0)).pipe(Effect.provide(live)),

  "devtmpfs as tmpfs": Sysinit.run(
    finalizer("1"),
    Mount.withMountPoints(Mount.systemMountPoints()),
    Symlink.createSymlinks(Symlink.devSymlinks()),
    Network.setInterfaceUp("lo"),
    Env.setEnv({ SYSINIT_RUN: "yes" }),
    finalizer("2"),
    Console.log("steps ran"),
    Sysinit.setExitCode(300)
  ).pipe(Effect.provide(devtmpfsAsTmpfs)),

  "failing step": Sysinit.run(
    Sysinit.setExitCode(0),
    finalizer("1"),
    Network.setInterfaceUp("nosuch0"),
    Console.log("after the failing step")
  ).pipe(Effect.provide(devtmpfsAsTmpfs))
}

const run = runs[process.argv[2] ?? ""] ?? Effect.die(`no run ${process.argv[2]}`)
Effect.runFork(Effect.catch(run, (error) => Effect.sync(() => process.stderr.write(`run refused: ${String(error)}\n`))))
