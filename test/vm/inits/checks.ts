// Sets the machine up as a typical init does, then reports what the guest
// sees as one JSON line on stdout, for the host to check.
import { Console, Effect } from "effect"
import { Env, HostPipe, Init, Kmod, Mount, Network, Symlink, Sysinit } from "effect-sysinit"
import * as fs from "node:fs"
import * as os from "node:os"

const lines = (file: string) => fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "")

Init.main(
  Mount.withMountPoints(Mount.systemMountPoints()),
  Symlink.createSymlinks(Symlink.devSymlinks()),
  Network.setInterfaceUp("lo"),
  Network.setHostname("sysinit-vm"),
  Kmod.loadModules("/lib/modules/*"),
  Env.setEnv({ SYSINIT_TEST: "set by withEnv", PATH: "/data:/usr/bin" }),
  Env.sysctl("net.ipv4.ip_forward", "1"),
  HostPipe.withStdoutHostPipe,
  Effect.gen(function*() {
    const report = {
      args: process.argv.slice(2),
      mounts: lines("/proc/mounts").map((line) => line.split(" ").slice(1, 3)),
      filesystems: lines("/proc/filesystems").map((line) => line.split("\t").at(-1)),
      links: Object.fromEntries(
        ["/dev/core", "/dev/fd", "/dev/rtc", "/dev/stderr", "/dev/stdin", "/dev/stdout"].map((link) => [
          link,
          fs.readlinkSync(link)
        ])
      ),
      loFlags: fs.readFileSync("/sys/class/net/lo/flags", "utf8").trim(),
      hostname: { os: os.hostname(), proc: fs.readFileSync("/proc/sys/kernel/hostname", "utf8").trim() },
      env: process.env["SYSINIT_TEST"],
      ipForward: fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(),
      dummyLoaded: fs.existsSync("/sys/module/dummy"),
      data: fs.readdirSync("/data"),
      // The runner snapshots the init on the host: what node:os says must still be the guest's.
      osRelease: os.release(),
      kernelRelease: fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()
    }
    yield* Console.log(JSON.stringify(report))
    yield* Sysinit.setExitCode(0)
  })
)
