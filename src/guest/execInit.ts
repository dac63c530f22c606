// The init of `effect-sysinit exec`: an ordinary init written with this
// library, as virtrun's default init is written with its sysinit package.
// Copy it to start your own. The runner writes what to run into
// /exec.json: the program, its arguments, working directory and
// environment, and the host directories to mount.
import { Effect } from "effect"
import { Env, Exec, HostPipe, Init, Kmod, Mount, Network, Share, Symlink } from "effect-sysinit"

Init.main(
  Mount.withMountPoints(Mount.systemMountPoints()),
  // --add-module files, and what the runner added for 9p and virtio consoles, in dependency order.
  Kmod.loadModules("/lib/modules/*"),
  Network.setInterfaceUp("lo"),
  Symlink.createSymlinks(Symlink.devSymlinks()),
  // Console 1 is the program's stdout, console 2 its stderr, consoles 3… output files.
  HostPipe.withStdoutHostPipe,
  Effect.gen(function*() {
    const spec = yield* Exec.readExecSpec
    yield* Env.setEnv(spec.env)
    if (spec.hostname !== undefined) yield* Network.setHostname(spec.hostname)
    if (spec.hostRoot !== undefined) yield* Share.mountHostRoot(spec.hostRoot)
    yield* Share.withShares(spec.shares)
    // A direct child of PID 1: its exit code is the run's; killed by a signal, the run fails naming it.
    yield* Exec.withProgram(spec.command, spec.args, { cwd: spec.cwd })
  })
)
