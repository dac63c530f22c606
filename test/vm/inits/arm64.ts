// The arm64 guest's one boot: the demo's steps (system mounts, stdout over
// a host pipe, which on arm64 is a virtio console whose modules the init
// loads first), the modules given with --add-module in dependency order,
// then one JSON line on stdout about what the guest is, and the exit code
// given as its argument.
import { Console, Effect } from "effect"
import { HostPipe, Init, Kmod, Mount, Sysinit } from "effect-sysinit"
import * as fs from "node:fs"
import * as os from "node:os"

const lines = (file: string) => fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "")

Init.main(
  Mount.withMountPoints(Mount.systemMountPoints()),
  Kmod.loadModules("/lib/modules/*"),
  HostPipe.withStdoutHostPipe,
  Effect.gen(function*() {
    const report = {
      arch: process.arch,
      machine: os.machine(),
      release: os.release(),
      mounts: lines("/proc/mounts").map((line) => line.split(" ").slice(1, 3)),
      modules: lines("/proc/modules").map((line) => line.split(" ")[0]),
      stdoutConsole: fs.readlinkSync("/dev/virtrun1")
    }
    yield* Console.log(JSON.stringify(report))
    yield* Sysinit.setExitCode(Number(process.argv[2]))
  })
)
