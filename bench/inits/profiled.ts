// Configuration 1's init with V8's CPU profiler on from its first line to its
// last finalizer; the profile goes to /dev/virtrun2 (`npm run bench:profile`).
import { Effect } from "effect"
import { HostPipe, Init, Mount, Network, Symlink, Sysinit } from "effect-sysinit"
import * as fs from "node:fs"
import { Session } from "node:inspector"

const session = new Session()
session.connect()
session.post("Profiler.enable")
session.post("Profiler.setSamplingInterval", { interval: 500 })
session.post("Profiler.start")

const stop = Effect.sync(() =>
  session.post("Profiler.stop", (error, result) => {
    if (error === null) fs.writeFileSync("/dev/virtrun2", JSON.stringify(result.profile))
  })
)

Init.main(
  Effect.addFinalizer(() => stop),
  Mount.withMountPoints(Mount.systemMountPoints()),
  Symlink.createSymlinks(Symlink.devSymlinks()),
  Network.setInterfaceUp("lo"),
  HostPipe.withStdoutHostPipe,
  Effect.sync(() => console.log("hello from a fresh VM")),
  Sysinit.setExitCode(0)
)
