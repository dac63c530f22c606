import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryKernel } from "../../src/Layer.ts"
import { NodeProcess } from "../../src/NodeProcess.ts"
import { Syscalls } from "../../src/Syscalls.ts"
import { syscallError, withKernel } from "./helpers.ts"
import { module } from "./moduleFiles.ts"

const mountRequest = (target: string, fsType: string) => ({ source: fsType, target, fsType, flags: 0, data: "" })

// What both kernels answer (errnos, values) is the contract's: test/contract, run by contract.test.ts.
// Here: what only the memory kernel shows, its state.
describe("the in-memory kernel keeps its state as Linux would", () => {
  it.effect("a refused mount leaves the mount table as it was", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscallError(syscalls.mount(mountRequest("", "tmpfs")))
      yield* syscallError(syscalls.mount(mountRequest("/missing", "tmpfs")))
      yield* syscallError(syscalls.mount(mountRequest("/mnt", "nosuchfs")))
      yield* syscallError(syscalls.mount(mountRequest("/etc/file", "tmpfs")))
      yield* syscalls.mount(mountRequest("/mnt", "sysfs"))
      const busy = yield* syscallError(syscalls.mount(mountRequest("/mnt", "sysfs")))
      assert.strictEqual(busy.errno, "EBUSY")
      assert.deepStrictEqual((yield* MemoryKernel).state.mounts.map((m) => `${m.fsType}@${m.target}`), ["sysfs@/mnt"])
    }).pipe(withKernel({ directories: ["/mnt"], files: { "/etc/file": "x" } })))

  it.effect.each(["tmpfs", "proc", "devpts"])(
    "%s stacks in the mount table, and another type stacks on it",
    (fsType) =>
      Effect.gen(function*() {
        const syscalls = yield* Syscalls
        yield* syscalls.mount(mountRequest("/mnt", fsType))
        yield* syscalls.mount(mountRequest("/mnt", fsType))
        yield* syscalls.mount(mountRequest("/mnt", "sysfs"))
        const mounts = (yield* MemoryKernel).state.mounts.map((m) => `${m.fsType}@${m.target}`)
        assert.deepStrictEqual(mounts, [`${fsType}@/mnt`, `${fsType}@/mnt`, "sysfs@/mnt"])
      }).pipe(withKernel({ directories: ["/mnt"] }))
  )

  it.effect("a link is kept with the target given, relative or absolute, and a refused one changes nothing", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.symlink("/proc/self/fd/", "/dev/fd")
      yield* syscalls.symlink("rtc0", "/dev/rtc")
      yield* syscallError(syscalls.symlink("/other", "/dev/fd"))
      const { tree } = (yield* MemoryKernel).state
      assert.deepStrictEqual(tree.get("/dev/fd"), { type: "symlink", target: "/proc/self/fd/" })
      assert.deepStrictEqual(tree.get("/dev/rtc"), { type: "symlink", target: "rtc0" })
    }).pipe(withKernel({ directories: ["/dev"] })))

  it.effect.each([
    { name: "an empty module is EINVAL", file: "/m/b.ko", content: "", errno: "EINVAL" },
    { name: "a compressed file without the flag is ENOEXEC", file: "/m/c.ko.xz", content: "xz", errno: "ENOEXEC" }
  ])("modules: $name, and nothing is loaded", ({ content, errno, file }) =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      assert.strictEqual((yield* syscallError(syscalls.finitModule(file, "", 0))).errno, errno)
      assert.deepStrictEqual((yield* MemoryKernel).state.modules, [])
    }).pipe(withKernel({ files: { [file]: content } })))

  it.effect("a second load of the same module is EEXIST", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.finitModule("/m/dummy.ko", "numdummies=2", 0)
      assert.strictEqual((yield* syscallError(syscalls.finitModule("/m/dummy.ko", "", 0))).errno, "EEXIST")
      assert.deepStrictEqual((yield* MemoryKernel).state.modules.map((m) => [m.name, m.params]), [[
        "dummy",
        "numdummies=2"
      ]])
    }).pipe(withKernel({ files: { "/m/dummy.ko": module("dummy") } })))

  it.effect("stdio: an init started on /dev/null has no terminal until reopenStdio puts the console on 0, 1 and 2", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.mkdirAll("/dev", 0o755)
      yield* syscalls.mount(mountRequest("/dev", "devtmpfs"))
      assert.isFalse(yield* syscalls.isTerminal(2))
      yield* syscallError(syscalls.reopenStdio("/dev/nosuch"))
      assert.strictEqual((yield* MemoryKernel).state.stdio, "/dev/null")
      yield* syscalls.reopenStdio("/dev/console")
      assert.deepStrictEqual([yield* syscalls.isTerminal(0), yield* syscalls.isTerminal(2)], [true, true])
      assert.strictEqual((yield* MemoryKernel).state.stdio, "/dev/console")
    }).pipe(withKernel({ stdio: "/dev/null" })))

  it.effect("a regular file opened as a console is written at its offset, and is not in the consoles", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      const fd = yield* syscalls.openConsole("/etc/file")
      yield* syscalls.write(fd, new TextEncoder().encode("ab"))
      yield* syscalls.write(fd, new TextEncoder().encode("c"))
      yield* syscalls.close(fd)
      const { state } = yield* MemoryKernel
      assert.strictEqual(new TextDecoder().decode(yield* syscalls.readFile("/etc/file")), "abcdef")
      assert.strictEqual(state.consoles.size, 0)
    }).pipe(withKernel({ files: { "/etc/file": "xxxdef" } })))

  it.effect("a terminal keeps its mode and its window size, the last one given; a refused size changes nothing", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.mkdirAll("/dev", 0o755)
      yield* syscalls.mount(mountRequest("/dev", "devtmpfs"))
      const raw = yield* syscalls.openConsole("/dev/hvc3")
      yield* syscalls.setRawMode(raw)
      const fd = yield* syscalls.openTerminal("/dev/hvc3")
      const { state } = yield* MemoryKernel
      assert.deepStrictEqual([state.consoles.get(fd)?.cooked, state.consoles.get(fd)?.windowSize], [false, undefined])
      yield* syscalls.setCookedMode(fd)
      yield* syscalls.setWindowSize(fd, { rows: 24, columns: 80 })
      yield* syscalls.setWindowSize(fd, { rows: 50, columns: 132 })
      yield* syscallError(syscalls.setWindowSize(fd, { rows: -1, columns: 80 }))
      const terminal = state.consoles.get(fd)
      assert.deepStrictEqual(
        { device: terminal?.device, raw: terminal?.raw, cooked: terminal?.cooked, size: terminal?.windowSize },
        { device: "/dev/hvc3", raw: false, cooked: true, size: { rows: 50, columns: 132 } }
      )
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1, 2, 3] } })))

  it.effect("readAvailable of a console gives nothing until the host sends, then what was sent, without waiting", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.mkdirAll("/dev", 0o755)
      yield* syscalls.mount(mountRequest("/dev", "devtmpfs"))
      const fd = yield* syscalls.openConsoleForReading("/dev/hvc2")
      assert.isUndefined(yield* syscalls.readAvailable(fd, 4))
      ;(yield* MemoryKernel).sendToConsole("/dev/hvc2", new TextEncoder().encode("abcdef"))
      assert.strictEqual(new TextDecoder().decode(yield* syscalls.readAvailable(fd, 4)), "abcd")
      assert.strictEqual(new TextDecoder().decode(yield* syscalls.readAvailable(fd, 4)), "ef")
      assert.isUndefined(yield* syscalls.readAvailable(fd, 4))
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1, 2] } })))

  it.effect("environment: setEnv lands in the process's environment, beside what was there", () =>
    Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      yield* nodeProcess.setEnv("PATH", "/data")
      yield* syscallError(nodeProcess.setEnv("A=B", "x"))
      assert.deepStrictEqual(Object.fromEntries((yield* MemoryKernel).state.env), { HOME: "/", PATH: "/data" })
    }).pipe(withKernel({ env: { HOME: "/" } })))

  it.effect("sysctls appear under /proc/sys only once /proc is mounted, and writes land in the sysctls", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      const before = yield* syscallError(syscalls.readFile("/proc/sys/net/ipv4/ip_forward"))
      assert.strictEqual(before.errno, "ENOENT")
      yield* syscalls.mkdirAll("/proc", 0o755)
      yield* syscalls.mount(mountRequest("/proc", "proc"))
      yield* syscalls.writeFile("/proc/sys/net/ipv4/ip_forward", "1\n")
      assert.strictEqual(new TextDecoder().decode(yield* syscalls.readFile("/proc/sys/net/ipv4/ip_forward")), "1\n")
      assert.strictEqual((yield* MemoryKernel).state.sysctls.get("net.ipv4.ip_forward"), "1")
    }).pipe(withKernel()))
})

describe("fault injection", () => {
  it.effect("fails the next call only, with the errno given", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      const syscalls = yield* Syscalls
      kernel.fail({ call: "mkdirAll", errno: "EROFS", times: 1 })
      const error = yield* syscallError(syscalls.mkdirAll("/x", 0o755))
      assert.deepStrictEqual([error.errno, error.syscall, error.path, error.code], ["EROFS", "mkdir", "/x", 30])
      yield* syscalls.mkdirAll("/x", 0o755)
    }).pipe(withKernel()))

  it.effect("fails every call on one path until cleared", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      const syscalls = yield* Syscalls
      kernel.fail({ call: "mkdirAll", errno: "EPERM", path: "/y" })
      yield* syscalls.mkdirAll("/x", 0o755)
      assert.strictEqual((yield* syscallError(syscalls.mkdirAll("/y", 0o755))).errno, "EPERM")
      assert.strictEqual((yield* syscallError(syscalls.mkdirAll("/y", 0o755))).errno, "EPERM")
      kernel.clearFaults()
      yield* syscalls.mkdirAll("/y", 0o755)
    }).pipe(withKernel()))

  it.effect("the error's message names the call, the path and the errno", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      const syscalls = yield* Syscalls
      kernel.fail({ call: "mount", errno: "ENODEV" })
      const error = yield* syscallError(syscalls.mount(mountRequest("/mnt", "tmpfs")))
      assert.strictEqual(error.message, "mount \"/mnt\": ENODEV (no such device)")
    }).pipe(withKernel()))
})
