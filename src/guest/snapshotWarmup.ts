/**
 * Runs a typical init once on the in-memory kernel while a start-up snapshot
 * is built: V8 keeps the bytecode of every function that ran in the
 * snapshot, so the guest's node does not compile Effect's runtime, the setup
 * steps, their errors and the logger again at boot (each first call is
 * milliseconds under TCG). Nothing of the host is touched.
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { HostPipe, Layer, Mount, Network, Symlink, Sysinit } from "effect-sysinit"

/**
 * The run; it ends (interrupted, as `Sysinit.run` on the in-memory kernel
 * does) before the snapshot is taken.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (): void => {
  Effect.runFork(
    Sysinit.run(
      Mount.withMountPoints(Mount.systemMountPoints()),
      // A failing optional mount: the error, its warning and the logger.
      Mount.withMountPoints({ "/warm-up": { fsType: "warm-up", optional: true } }),
      Symlink.createSymlinks(Symlink.devSymlinks()),
      Network.setInterfaceUp("lo"),
      HostPipe.withStdoutHostPipe,
      Effect.logWarning("warm-up"),
      Effect.sync(() => console.log("warm-up")),
      Sysinit.setExitCode(0)
    ).pipe(
      Effect.provide(Layer.memory({ consoles: { transport: "serial", ports: [0, 1] } })),
      Effect.provide(NodeServices.layer),
      Effect.exit
    )
  )
}
