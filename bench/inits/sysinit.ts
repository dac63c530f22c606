// Configuration 1 of the bench: "print a line, exit 0" as a step of
// Sysinit.run with the default setup. With --timeline, marks between the
// steps go to console 0 after the last finalizer.
import { Effect } from "effect"
import { HostPipe, Init, Mount, Network, Symlink, Sysinit } from "effect-sysinit"
import { bundleStarted } from "./bundleStarted.ts"
import { flush, mark } from "./marks.ts"

const marked = (name: string) => Effect.sync(() => mark(name))

mark("node-started", bundleStarted.node)
mark("bundle-started", bundleStarted.bundle)
mark("init-code")
Init.main(
  // Registered first, so it runs last of the finalizers.
  Effect.addFinalizer(() => Effect.sync(() => (mark("finalizers-done"), flush()))),
  marked("essential-mounts-done"),
  Mount.withMountPoints(Mount.systemMountPoints()),
  marked("system-mounts-done"),
  Symlink.createSymlinks(Symlink.devSymlinks()),
  marked("dev-links-done"),
  Network.setInterfaceUp("lo"),
  marked("lo-up-done"),
  HostPipe.withStdoutHostPipe,
  marked("stdout-pipe-done"),
  Effect.sync(() => console.log("hello from a fresh VM")),
  Sysinit.setExitCode(0),
  marked("main-done")
)
