/**
 * What only the live kernel shows, beyond the contract (test/contract, run
 * by programs/contract.ts): what /proc says of a mount, a pseudo-terminal's
 * termios, stdio moved and put back, and the Node process's own hooks. Run
 * as PID 1 by the namespace tier; paths are under /tmp, a tmpfs of this
 * mount namespace.
 */
import { Console, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { loadLibc, TCGETS } from "../../../src/kernels/libc.ts"
import { NodeProcess } from "../../../src/NodeProcess.ts"
import { Syscalls } from "../../../src/Syscalls.ts"
import { runScenarios } from "../pidOne.ts"

const decoder = new TextDecoder()

/** The result of an effect as data: "ok" or its value, or the errno it failed with. */
const attempt = <A, R>(effect: Effect.Effect<A, { readonly errno: string }, R>) =>
  Effect.match(effect, {
    onSuccess: (value): unknown => value === undefined ? "ok" : { ok: value },
    onFailure: (error) => ({ errno: error.errno })
  })

const fdFlags = Effect.fnUntraced(function*(fd: number) {
  const syscalls = yield* Syscalls
  const fdinfo = decoder.decode(yield* syscalls.readFile(`/proc/self/fdinfo/${fd}`))
  return Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(fdinfo)![1]!, 8)
})

await runScenarios({
  "mount tmpfs on a new nested path": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll("/tmp/nested/a/b", 0o755)
    yield* syscalls.mount({ source: "scratch", target: "/tmp/nested/a/b", fsType: "tmpfs", flags: 0, data: "size=1m" })
    const mounts = decoder.decode(yield* syscalls.readFile("/proc/self/mounts"))
    return mounts.split("\n").filter((line) => line.split(" ")[1] === "/tmp/nested/a/b")
  }),

  "symlink read back": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.symlink("/proc/self/fd/", "/tmp/fd")
    yield* syscalls.symlink("rtc0", "/tmp/rtc")
    return [Fs.readlinkSync("/tmp/fd"), Fs.readlinkSync("/tmp/rtc")]
  }),

  "setEnv seen by a child": Effect.gen(function*() {
    const nodeProcess = yield* NodeProcess
    yield* nodeProcess.setEnv("SYSINIT_TEST_VALUE", "seen by the child")
    const child = ChildProcess.spawnSync("sh", ["-c", "printf %s \"$SYSINIT_TEST_VALUE\""], { encoding: "utf8" })
    return { child: child.stdout, inProcessEnv: process.env["SYSINIT_TEST_VALUE"] }
  }),

  "fileType of a device is other": Syscalls.use((syscalls) => syscalls.fileType("/dev/null")),

  "raw mode on a terminal": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    // A pseudo-terminal of a devpts of our own; its master is a terminal as a console is.
    yield* syscalls.mkdirAll("/tmp/pts", 0o755)
    yield* syscalls.mount({ source: "devpts", target: "/tmp/pts", fsType: "devpts", flags: 0, data: "ptmxmode=0666" })
    const fd = yield* syscalls.openConsole("/tmp/pts/ptmx")
    const opened = yield* fdFlags(fd)
    yield* syscalls.setRawMode(fd)
    const raw = yield* fdFlags(fd)
    // Read back through the bindings themselves: the service has no getter.
    const libc = yield* loadLibc
    const termios = Buffer.alloc(libc.structs.termiosSize)
    if (libc.ioctlStruct(fd, TCGETS, termios) < 0) return yield* Effect.die("TCGETS failed")
    const { c_cflag, c_iflag, c_lflag, c_oflag } = libc.structs.decodeTermios(termios)
    yield* syscalls.write(fd, new Uint8Array(1000).fill(65))
    yield* syscalls.drain(fd)
    yield* syscalls.close(fd)
    return {
      nonBlockingWhenOpened: (opened & 0o4000) !== 0,
      nonBlockingWhenRaw: (raw & 0o4000) !== 0,
      termios: { c_iflag, c_oflag, c_cflag, c_lflag }
    }
  }),

  "redirectStdout and back": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    const nodeProcess = yield* NodeProcess
    yield* syscalls.writeFile("/tmp/stdout", "")
    const fd = yield* syscalls.openConsole("/tmp/stdout")
    yield* nodeProcess.redirectStdout(fd)
    console.log("console.log", 1)
    process.stdout.write("process.stdout.write\n")
    yield* Console.log("Effect Console")
    yield* nodeProcess.redirectStdout(undefined)
    console.log("back on stdout")
    yield* syscalls.close(fd)
    return decoder.decode(yield* syscalls.readFile("/tmp/stdout"))
  }),

  "isTerminal and reopenStdio on a pseudo-terminal": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll("/tmp/stdio-pts", 0o755)
    yield* syscalls.mount({
      source: "devpts",
      target: "/tmp/stdio-pts",
      fsType: "devpts",
      flags: 0,
      data: "ptmxmode=0666"
    })
    // The harness reads our stdout: keep the pipes aside and put them back afterwards.
    const libc = yield* loadLibc
    const saved = [0, 1, 2].map((fd) => libc.dup2(fd, 100 + fd))
    const stdioBefore = yield* syscalls.isTerminal(2)
    const missing = yield* attempt(syscalls.reopenStdio("/tmp/stdio-pts/nosuch"))
    const reopened = yield* attempt(syscalls.reopenStdio("/tmp/stdio-pts/ptmx"))
    const stdioAfter = [yield* syscalls.isTerminal(0), yield* syscalls.isTerminal(1), yield* syscalls.isTerminal(2)]
    const links = [0, 1, 2].map((fd) => Fs.readlinkSync(`/proc/self/fd/${fd}`))
    for (const fd of [0, 1, 2]) {
      libc.dup2(100 + fd, fd)
      libc.close(100 + fd)
    }
    return {
      saved,
      stdioBefore,
      missing,
      reopened,
      stdioAfter,
      links,
      closed: yield* attempt(syscalls.isTerminal(100)),
      restored: yield* syscalls.isTerminal(1)
    }
  }),

  "writeStderr": NodeProcess.use((nodeProcess) => nodeProcess.writeStderr("written to stderr\n")),

  "sync": Syscalls.use((syscalls) => syscalls.sync)
})
