import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryKernel } from "../../src/Layer.ts"
import { Syscalls } from "../../src/Syscalls.ts"
import { syscallError, withKernel } from "./helpers.ts"

const mountRequest = (target: string, fsType: string) => ({ source: fsType, target, fsType, flags: 0, data: "" })

describe("the in-memory kernel answers as Linux does", () => {
  it.effect.each([
    { name: "mounting on an empty path is ENOENT", target: "", fsType: "tmpfs", errno: "ENOENT" },
    { name: "mounting on a missing directory is ENOENT", target: "/missing", fsType: "tmpfs", errno: "ENOENT" },
    { name: "an unknown file system type is ENODEV", target: "/mnt", fsType: "nosuchfs", errno: "ENODEV" },
    { name: "an empty file system type is ENODEV", target: "/mnt", fsType: "", errno: "ENODEV" },
    { name: "mounting on a regular file is ENOTDIR", target: "/etc/file", fsType: "tmpfs", errno: "ENOTDIR" }
  ])("$name", ({ errno, fsType, target }) =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      const error = yield* syscallError(syscalls.mount(mountRequest(target, fsType)))
      assert.strictEqual(error.errno, errno)
      assert.strictEqual(error.syscall, "mount")
      assert.strictEqual(error.path, target)
      assert.deepStrictEqual((yield* MemoryKernel).state.mounts, [])
    }).pipe(withKernel({ directories: ["/mnt"], files: { "/etc/file": "x" } })))

  it.effect.each(["sysfs", "mqueue", "devtmpfs", "debugfs"])(
    "mounting %s again on its active mount point is EBUSY",
    (fsType) =>
      Effect.gen(function*() {
        const syscalls = yield* Syscalls
        yield* syscalls.mount(mountRequest("/mnt", fsType))
        const error = yield* syscallError(syscalls.mount(mountRequest("/mnt", fsType)))
        assert.deepStrictEqual([error.errno, error.path], ["EBUSY", "/mnt"])
        assert.strictEqual((yield* MemoryKernel).state.mounts.length, 1)
      }).pipe(withKernel({ directories: ["/mnt"] }))
  )

  it.effect.each(["tmpfs", "proc", "devpts"])(
    "%s gets a new superblock each time, so it stacks as in Linux",
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

  it.effect("umount removes the top mount and refuses a point that is not mounted with EINVAL", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.mount(mountRequest("/mnt", "tmpfs"))
      yield* syscalls.umount("/mnt", 0)
      assert.strictEqual((yield* syscallError(syscalls.umount("/mnt", 0))).errno, "EINVAL")
    }).pipe(withKernel({ directories: ["/mnt"] })))

  it.effect("a link over an existing path is EEXIST, and links read back", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.symlink("/target", "/link")
      assert.strictEqual(yield* syscalls.readlink("/link"), "/target")
      assert.strictEqual((yield* syscallError(syscalls.symlink("/other", "/link"))).errno, "EEXIST")
      assert.strictEqual((yield* syscallError(syscalls.symlink("/other", "/etc/file"))).errno, "EEXIST")
      assert.strictEqual((yield* syscallError(syscalls.symlink("/x", "/no/such/dir/link"))).errno, "ENOENT")
      assert.strictEqual((yield* syscallError(syscalls.readlink("/etc/file"))).errno, "EINVAL")
    }).pipe(withKernel({ files: { "/etc/file": "x" } })))

  it.effect.each([
    { name: "an unknown extension is EINVAL", file: "/m/a.txt", content: "name=a", errno: "EINVAL" },
    { name: "an empty module is EINVAL", file: "/m/b.ko", content: "", errno: "EINVAL" },
    { name: "a missing file is ENOENT", file: "/m/missing.ko", content: undefined, errno: "ENOENT" },
    { name: "a compressed file without the flag is ENOEXEC", file: "/m/c.ko.xz", content: "xz", errno: "ENOEXEC" }
  ])("modules: $name", ({ content, errno, file }) =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      assert.strictEqual((yield* syscallError(syscalls.finitModule(file, "", 0))).errno, errno)
      assert.deepStrictEqual((yield* MemoryKernel).state.modules, [])
    }).pipe(withKernel({ files: content === undefined ? {} : { [file]: content } })))

  it.effect("a second load of the same module is EEXIST", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.finitModule("/m/dummy.ko", "numdummies=2", 0)
      assert.strictEqual((yield* syscallError(syscalls.finitModule("/m/dummy.ko", "", 0))).errno, "EEXIST")
      assert.deepStrictEqual((yield* MemoryKernel).state.modules.map((m) => [m.name, m.params]), [[
        "dummy",
        "numdummies=2"
      ]])
    }).pipe(withKernel({ files: { "/m/dummy.ko": "\x7fELF\0name=dummy\0" } })))

  it.effect("interfaces: unknown is ENODEV, flags read back", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      assert.strictEqual((yield* syscallError(syscalls.interfaceFlags("eth9"))).errno, "ENODEV")
      assert.strictEqual((yield* syscallError(syscalls.setInterfaceFlags("eth9", 1))).errno, "ENODEV")
      yield* syscalls.setInterfaceFlags("lo", 0x49)
      assert.strictEqual(yield* syscalls.interfaceFlags("lo"), 0x49)
    }).pipe(withKernel()))

  it.effect("stdio: isTerminal is false on /dev/null and EBADF for a closed fd; reopenStdio of a missing device is ENOENT", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.mkdirAll("/dev", 0o755)
      yield* syscalls.mount(mountRequest("/dev", "devtmpfs"))
      assert.isFalse(yield* syscalls.isTerminal(2))
      assert.deepStrictEqual(
        [
          (yield* syscallError(syscalls.isTerminal(100))).errno,
          (yield* syscallError(syscalls.isTerminal(100))).syscall
        ],
        ["EBADF", "ioctl"]
      )
      const missing = yield* syscallError(syscalls.reopenStdio("/dev/nosuch"))
      assert.deepStrictEqual([missing.syscall, missing.errno, missing.path], ["open", "ENOENT", "/dev/nosuch"])
      yield* syscalls.reopenStdio("/dev/console")
      assert.deepStrictEqual([yield* syscalls.isTerminal(0), yield* syscalls.isTerminal(2)], [true, true])
    }).pipe(withKernel({ stdio: "/dev/null" })))

  it.effect("environment: an empty name or one with '=' is EINVAL", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      assert.strictEqual((yield* syscallError(syscalls.setEnv("", "x"))).errno, "EINVAL")
      assert.strictEqual((yield* syscallError(syscalls.setEnv("A=B", "x"))).errno, "EINVAL")
      yield* syscalls.setEnv("PATH", "/data")
      assert.deepStrictEqual(yield* syscalls.getEnv, { HOME: "/", PATH: "/data" })
    }).pipe(withKernel({ env: { HOME: "/" } })))

  it.effect("files: mkdirAll, read, write and their errnos", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      yield* syscalls.mkdirAll("/a/b/c", 0o755)
      yield* syscalls.mkdirAll("/a/b/c", 0o755)
      assert.strictEqual(yield* syscalls.fileType("/a/b"), "directory")
      assert.strictEqual((yield* syscallError(syscalls.mkdirAll("", 0o755))).errno, "ENOENT")
      assert.strictEqual((yield* syscallError(syscalls.mkdirAll("/etc/file", 0o755))).errno, "EEXIST")
      assert.strictEqual((yield* syscallError(syscalls.mkdirAll("/etc/file/sub", 0o755))).errno, "ENOTDIR")
      assert.strictEqual((yield* syscallError(syscalls.readFile("/a"))).errno, "EISDIR")
      assert.strictEqual((yield* syscallError(syscalls.readFile("/nope"))).errno, "ENOENT")
      assert.strictEqual((yield* syscallError(syscalls.writeFile("/nope/x", "1"))).errno, "ENOENT")
      yield* syscalls.writeFile("/a/b/c/f", "data")
      assert.strictEqual(new TextDecoder().decode(yield* syscalls.readFile("/a/b/c/f")), "data")
      assert.deepStrictEqual(yield* syscalls.glob("/a/b/*"), ["/a/b/c"])
    }).pipe(withKernel({ files: { "/etc/file": "x" } })))

  it.effect("sysctls appear under /proc/sys once /proc is mounted; unknown keys are ENOENT", () =>
    Effect.gen(function*() {
      const syscalls = yield* Syscalls
      const before = yield* syscallError(syscalls.readFile("/proc/sys/net/ipv4/ip_forward"))
      assert.strictEqual(before.errno, "ENOENT")
      yield* syscalls.mkdirAll("/proc", 0o755)
      yield* syscalls.mount(mountRequest("/proc", "proc"))
      yield* syscalls.writeFile("/proc/sys/net/ipv4/ip_forward", "1\n")
      assert.strictEqual(new TextDecoder().decode(yield* syscalls.readFile("/proc/sys/net/ipv4/ip_forward")), "1\n")
      assert.strictEqual((yield* MemoryKernel).state.sysctls.get("net.ipv4.ip_forward"), "1")
      assert.strictEqual((yield* syscallError(syscalls.writeFile("/proc/sys/net/nope", "1"))).errno, "ENOENT")
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
