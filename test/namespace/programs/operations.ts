/**
 * Scenarios of the init's operations (Mount, Symlink, Network, Env, Kmod,
 * Sysinit) on the live kernel and process, run as PID 1 by the namespace tier. The first
 * ones give the namespace a /dev and /sys of its own, so that nothing below
 * them is created in the host's.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Env from "../../../src/Env.ts"
import * as Exec from "../../../src/Exec.ts"
import * as Kmod from "../../../src/Kmod.ts"
import * as Mount from "../../../src/Mount.ts"
import * as Network from "../../../src/Network.ts"
import * as Symlink from "../../../src/Symlink.ts"
import { Syscalls } from "../../../src/Syscalls.ts"
import * as Sysinit from "../../../src/Sysinit.ts"
import { runScenarios } from "../pidOne.ts"

const errnoOf = (error: { readonly errno: string; readonly path?: string | undefined }) => ({
  errno: error.errno,
  path: error.path
})

const argsFile = `${Os.tmpdir()}/effect-sysinit-args-${process.pid}-${Date.now()}`
const exactArgs = ["with space", `quotes "double" 'single'`, "ünïcødé ✓", "", "-x", "\\n"]

await runScenarios({
  "isPidOne": Sysinit.isPidOne,

  "runProgram of a child that exits 42": Exec.runProgram("/bin/sh", ["-c", "exit 42"]),

  "runProgram of a child killed by SIGKILL": Exec.runProgram("/bin/sh", ["-c", "kill -KILL $$"]),

  "runProgram of a program that does not exist": Exec.runProgram("/nonexistent/program", []),

  "runProgram passes arguments, cwd and env byte-exact": Effect.gen(function*() {
    const end = yield* Exec.runProgram(
      "/bin/sh",
      ["-c", `printf '%s\\0' "$PWD" "$ONLY" "$@" > ${argsFile}`, "sh", ...exactArgs],
      { cwd: "/tmp", env: { ONLY: "this" } }
    )
    const written = Fs.readFileSync(argsFile, "utf8").split("\0").slice(0, -1)
    Fs.rmSync(argsFile)
    return { end, written, expected: ["/tmp", "this", ...exactArgs] }
  }),

  "a /dev and /sys of our own": Effect.gen(function*() {
    yield* Mount.mount("/dev", { fsType: "tmpfs", flags: Mount.MS_NOSUID, data: "mode=0755" })
    yield* Mount.mount("/sys", { fsType: "sysfs", flags: Mount.MS_NOSUID | Mount.MS_NODEV | Mount.MS_NOEXEC })
  }),

  "mountAll of the system mount points": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    const mountTable = Effect.map(syscalls.readFile("/proc/self/mounts"), (bytes) => new TextDecoder().decode(bytes))
    const before = yield* mountTable
    const failed = yield* Mount.mountAll(Mount.systemMountPoints()).pipe(
      Effect.as([]),
      Effect.catchTag("OptionalMountError", (error) => Effect.succeed(error.errors.map(errnoOf)))
    )
    const added = (yield* mountTable).slice(before.length).split("\n").filter((line) => line !== "")
    return { failed, mounted: added.map((line) => line.split(" ").slice(1, 3).join(" ")) }
  }),

  "a required mount point that fails stops mountAll": Mount.mountAll({
    "/tmp/required/a": { fsType: "devtmpfs" },
    "/tmp/required/b": { fsType: "tmpfs" }
  }),

  "createSymlinks of the /dev links": Effect.gen(function*() {
    yield* Symlink.createSymlinks(Symlink.devSymlinks())
    return Object.fromEntries(Object.keys(Symlink.devSymlinks()).map((link) => [link, Fs.readlinkSync(link)]))
  }),

  "createSymlinks over existing links": Symlink.createSymlinks(Symlink.devSymlinks()),

  "setInterfaceUp lo": Effect.gen(function*() {
    const before = yield* Network.isInterfaceUp("lo")
    yield* Network.setInterfaceUp("lo")
    return { before, after: yield* Network.isInterfaceUp("lo") }
  }),

  "setInterfaceUp of an unknown interface": Network.setInterfaceUp("nosuch0"),

  "setHostname in the namespace's own UTS namespace": Effect.gen(function*() {
    yield* Network.setHostname("sysinit-namespace")
    return { proc: Fs.readFileSync("/proc/sys/kernel/hostname", "utf8"), os: Os.hostname() }
  }),

  "setHostname of a name longer than 64 bytes": Network.setHostname("é".repeat(33)),

  "sysctl of a net key": Effect.gen(function*() {
    yield* Env.sysctl("net.ipv4.ip_forward", "1")
    yield* Env.sysctl("net/ipv4/conf/lo/forwarding", "1")
    return [yield* Env.readSysctl("net.ipv4.ip_forward"), yield* Env.readSysctl("net.ipv4.conf.lo.forwarding")]
  }),

  "sysctl of an unknown key": Env.sysctl("net.ipv4.nosuch", "1"),

  "setEnv seen by a child": Effect.gen(function*() {
    yield* Env.setEnv({ SYSINIT_A: "first", SYSINIT_B: "second" })
    return ChildProcess.execFileSync("sh", ["-c", "printf '%s %s' \"$SYSINIT_A\" \"$SYSINIT_B\""], { encoding: "utf8" })
  }),

  "loadModule of a file that is not a module": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.writeFile("/tmp/fake.ko", "not an ELF file\n")
    return yield* Kmod.loadModule("/tmp/fake.ko")
  }),

  "loadModule of a missing file": Kmod.loadModule("/where/ever"),

  "loadModules of a compressed file that is not a module": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll("/tmp/modules", 0o755)
    yield* syscalls.writeFile("/tmp/modules/fake.ko.xz", "not xz either\n")
    return yield* Kmod.loadModules("/tmp/modules/*.ko*")
  })
})
