// The init of `effect-sysinit exec`: an ordinary init written with this
// library, as virtrun's default init is written with its sysinit package.
// Copy it to start your own. It does what is the same for every run, then
// waits at its ready point, where the runner may save the machine and
// restore it for every later run. The run arrives over the control console:
// the program, its arguments, working directory and environment, its stdin
// or its terminal (`shell`), the host directories to mount and this run's
// files. The program runs in a process started after that, so nothing of it
// was in the saved machine.
import { Effect } from "effect"
import { Env, Exec, HostPipe, Init, Kmod, Mount, Network, Restore, Share, Symlink } from "effect-sysinit"

Init.main(
  Mount.withMountPoints(Mount.systemMountPoints()),
  // The modules of the image (9p for the shares, and what the transport's consoles need), in dependency order.
  Kmod.loadModules("/lib/modules/*"),
  Network.setInterfaceUp("lo"),
  Symlink.createSymlinks(Symlink.devSymlinks()),
  // Console 1 is the program's stdout, console 2 its stderr, then output files, inputs, and the control console.
  HostPipe.withStdoutHostPipe,
  Effect.gen(function*() {
    // The ready point: what comes after differs from run to run.
    const { run } = yield* Restore.awaitRun()
    const spec = yield* Exec.execSpecOf(run)
    yield* Env.setEnv(spec.env)
    if (spec.hostname !== undefined) yield* Network.setHostname(spec.hostname)
    yield* Exec.placeRunFiles(spec)
    if (spec.hostRoot !== undefined) yield* Share.mountHostRoot(spec.hostRoot)
    yield* Share.withShares(spec.shares)
    // A direct child of PID 1: its exit code is the run's; killed by a signal, the run fails naming it.
    if (spec.terminal === undefined) {
      yield* Exec.withProgram(spec.command, spec.args, { cwd: spec.cwd, stdinFile: spec.stdin })
    } else {
      // On its terminal, in a session of its own: the shell's job control, ^C, and the host terminal's size.
      yield* Exec.withTerminalProgram(spec.command, spec.args, { cwd: spec.cwd, terminal: spec.terminal })
    }
  })
)
