/**
 * Scenarios of the live Syscalls service, run as PID 1 by the namespace tier.
 * Paths are under /tmp, a tmpfs of this mount namespace. They run in order,
 * in one process: the last one mounts over /dev.
 */
import { Console, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { IFF_UP } from "../../../src/internal/abi.ts"
import { loadLibc, TCGETS } from "../../../src/internal/libc.ts"
import { type MountRequest, Syscalls } from "../../../src/Syscalls.ts"
import { runScenarios } from "../pidOne.ts"

const decoder = new TextDecoder()
const tmpfs = (target: string, fsType = "tmpfs"): MountRequest => ({
  source: fsType,
  target,
  fsType,
  flags: 0,
  data: ""
})

/** The result of an effect as data: "ok" or its value, or the errno it failed with. */
const attempt = <A, R>(effect: Effect.Effect<A, { readonly errno: string }, R>) =>
  Effect.match(effect, {
    onSuccess: (value): unknown => value === undefined ? "ok" : { ok: value },
    onFailure: (error) => ({ errno: error.errno })
  })

const mountTwice = Effect.fnUntraced(function*(fsType: string) {
  const syscalls = yield* Syscalls
  const target = `/tmp/twice/${fsType}`
  yield* syscalls.mkdirAll(target, 0o755)
  const first = yield* attempt(syscalls.mount(tmpfs(target, fsType)))
  const second = yield* attempt(syscalls.mount(tmpfs(target, fsType)))
  return { first, second }
})

const fdFlags = Effect.fnUntraced(function*(fd: number) {
  const syscalls = yield* Syscalls
  const fdinfo = decoder.decode(yield* syscalls.readFile(`/proc/self/fdinfo/${fd}`))
  return Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(fdinfo)![1]!, 8)
})

await runScenarios({
  getpid: Syscalls.use((syscalls) => syscalls.getpid),

  "mount tmpfs on a new nested path": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll("/tmp/nested/a/b", 0o755)
    yield* syscalls.mount({ source: "scratch", target: "/tmp/nested/a/b", fsType: "tmpfs", flags: 0, data: "size=1m" })
    const mounts = decoder.decode(yield* syscalls.readFile("/proc/self/mounts"))
    return mounts.split("\n").filter((line) => line.split(" ")[1] === "/tmp/nested/a/b")
  }),

  "mount on an empty path": Syscalls.use((syscalls) => syscalls.mount(tmpfs(""))),

  "mount of an empty type": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll("/tmp/empty-type", 0o755)
    return yield* syscalls.mount({ source: "none", target: "/tmp/empty-type", fsType: "", flags: 0, data: "" })
  }),

  "mount of an unknown type": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll("/tmp/unknown-type", 0o755)
    return yield* syscalls.mount(tmpfs("/tmp/unknown-type", "nosuchfs"))
  }),

  "mount on a missing directory": Syscalls.use((syscalls) => syscalls.mount(tmpfs("/tmp/missing"))),

  "mount the same type twice on one point": Effect.gen(function*() {
    const results: Record<string, unknown> = {}
    for (const fsType of ["tmpfs", "proc", "sysfs", "mqueue", "devpts", "cgroup2", "bpf", "devtmpfs"]) {
      results[fsType] = yield* mountTwice(fsType)
    }
    return results
  }),

  "umount": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll("/tmp/umount", 0o755)
    yield* syscalls.mount(tmpfs("/tmp/umount"))
    const mounted = yield* attempt(syscalls.umount("/tmp/umount", 0))
    const notMounted = yield* attempt(syscalls.umount("/tmp/umount", 0))
    return { mounted, notMounted }
  }),

  "symlink read back": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.symlink("/proc/self/fd/", "/tmp/fd")
    yield* syscalls.symlink("rtc0", "/tmp/rtc")
    return [yield* syscalls.readlink("/tmp/fd"), yield* syscalls.readlink("/tmp/rtc")]
  }),

  "symlink over an existing path": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.symlink("/proc/kcore", "/tmp/core")
    return yield* syscalls.symlink("/proc/kcore", "/tmp/core")
  }),

  "readlink of a file that is not a link": Syscalls.use((syscalls) => syscalls.readlink("/proc/self/mounts")),

  "lo up": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    const before = yield* syscalls.interfaceFlags("lo")
    yield* syscalls.setInterfaceFlags("lo", before | IFF_UP)
    const after = yield* syscalls.interfaceFlags("lo")
    return { before, after }
  }),

  "flags of an unknown interface": Syscalls.use((syscalls) => syscalls.interfaceFlags("nosuch0")),

  "up of an unknown interface": Syscalls.use((syscalls) => syscalls.setInterfaceFlags("nosuch0", IFF_UP)),

  "flags of a name longer than IFNAMSIZ": Syscalls.use((syscalls) =>
    syscalls.interfaceFlags("lo-and-a-very-long-name")
  ),

  "sysctl write and read back": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    const before = decoder.decode(yield* syscalls.readFile("/proc/sys/net/ipv4/ip_forward"))
    yield* syscalls.writeFile("/proc/sys/net/ipv4/ip_forward", "1")
    const after = decoder.decode(yield* syscalls.readFile("/proc/sys/net/ipv4/ip_forward"))
    return { before, after }
  }),

  "write of an unknown sysctl": Syscalls.use((syscalls) => syscalls.writeFile("/proc/sys/net/ipv4/nosuch", "1")),

  "read of an unknown sysctl": Syscalls.use((syscalls) => syscalls.readFile("/proc/sys/net/ipv4/nosuch")),

  "setEnv seen by a child": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.setEnv("SYSINIT_TEST_VALUE", "seen by the child")
    const env = yield* syscalls.getEnv
    const child = ChildProcess.spawnSync("sh", ["-c", "printf %s \"$SYSINIT_TEST_VALUE\""], { encoding: "utf8" })
    return { child: child.stdout, inGetEnv: env["SYSINIT_TEST_VALUE"] }
  }),

  "setEnv with an invalid name": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    return { empty: yield* attempt(syscalls.setEnv("", "x")), equals: yield* attempt(syscalls.setEnv("A=B", "x")) }
  }),

  "finitModule of a file that is not a module": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.writeFile("/tmp/not-a-module.ko", "this is not an ELF file\n")
    return yield* syscalls.finitModule("/tmp/not-a-module.ko", "", 0)
  }),

  "finitModule of a missing file": Syscalls.use((syscalls) => syscalls.finitModule("/tmp/missing.ko", "", 0)),

  "initModule of bytes that are not a module": Syscalls.use((syscalls) =>
    syscalls.initModule(new TextEncoder().encode("not an ELF file"), "")
  ),

  "files and directories": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll("/tmp/files/modules", 0o755)
    yield* syscalls.mkdirAll("/tmp/files/modules", 0o755)
    yield* syscalls.writeFile("/tmp/files/modules/b.ko", "b")
    yield* syscalls.writeFile("/tmp/files/modules/a.ko", new Uint8Array([0, 1, 2]))
    yield* syscalls.writeFile("/tmp/files/modules/c.txt", "c")
    return {
      glob: yield* syscalls.glob("/tmp/files/*/*.ko"),
      read: Array.from(yield* syscalls.readFile("/tmp/files/modules/a.ko")),
      types: [
        yield* syscalls.fileType("/tmp/files/modules/a.ko"),
        yield* syscalls.fileType("/tmp/files/modules"),
        yield* syscalls.fileType("/dev/null")
      ],
      missing: yield* attempt(syscalls.fileType("/tmp/files/nosuch")),
      mkdirOverFile: yield* attempt(syscalls.mkdirAll("/tmp/files/modules/a.ko", 0o755)),
      readDirectory: yield* attempt(syscalls.readFile("/tmp/files"))
    }
  }),

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

  "raw mode on a file that is not a terminal": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.writeFile("/tmp/not-a-tty", "")
    const fd = yield* syscalls.openConsole("/tmp/not-a-tty")
    return yield* Effect.ensuring(syscalls.setRawMode(fd), Effect.ignore(syscalls.close(fd)))
  }),

  "write of a large buffer and close twice": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.writeFile("/tmp/large", "")
    const fd = yield* syscalls.openConsole("/tmp/large")
    yield* syscalls.write(fd, new Uint8Array(4 * 1024 * 1024).fill(7))
    yield* syscalls.close(fd)
    const size = (yield* syscalls.readFile("/tmp/large")).byteLength
    return {
      size,
      closeAgain: yield* attempt(syscalls.close(fd)),
      writeClosed: yield* attempt(syscalls.write(fd, new Uint8Array(1)))
    }
  }),

  "redirectStdout and back": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.writeFile("/tmp/stdout", "")
    const fd = yield* syscalls.openConsole("/tmp/stdout")
    yield* syscalls.redirectStdout(fd)
    console.log("console.log", 1)
    process.stdout.write("process.stdout.write\n")
    yield* Console.log("Effect Console")
    yield* syscalls.redirectStdout(undefined)
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

  "writeStderr": Syscalls.use((syscalls) => syscalls.writeStderr("written to stderr\n")),

  "sync": Syscalls.use((syscalls) => syscalls.sync),

  "openConsole of a missing /dev/hvc0": Effect.gen(function*() {
    const syscalls = yield* Syscalls
    // A /dev of our own, so that the answer does not depend on the host's devices.
    yield* syscalls.mount(tmpfs("/dev"))
    return yield* syscalls.openConsole("/dev/hvc0")
  })
})
