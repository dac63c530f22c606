// The Go package's "typical example", as an effect-sysinit init: mount the
// system file systems, create the /dev links, bring lo up, load the modules
// given with --add-module, set PATH, send stdout to its own console, then run
// the real program and report its exit code.
import { Console, Effect } from "effect"
import { Env, HostPipe, Init, Kmod, Mount, Network, Symlink, Sysinit } from "effect-sysinit"

Init.main(
  Mount.withMountPoints(Mount.systemMountPoints()),
  Symlink.createSymlinks(Symlink.devSymlinks()),
  Network.setInterfaceUp("lo"),
  Kmod.loadModules("/lib/modules/*"),
  Env.setEnv({ PATH: "/data:/usr/bin:/bin" }),
  HostPipe.withStdoutHostPipe,
  Effect.gen(function*() {
    yield* Console.log("hello from PID 1")
    yield* Sysinit.setExitCode(0)
  })
)
