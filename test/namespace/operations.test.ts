/**
 * The init's operations (Mount, Symlink, Network, Env, Kmod) on the live
 * kernel, as PID 1 of fresh namespaces (a UTS namespace of its own, too).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { scenarios, userNamespaces } from "./harness.ts"

const { failsWith, outcome, succeeds } = scenarios("operations.ts")

describe.skipIf(!userNamespaces.available)("the init's operations on the live kernel as PID 1", () => {
  it.effect("isPidOne is true", () => Effect.map(succeeds("isPidOne"), (isPidOne) => assert.isTrue(isPidOne)))

  it.effect("runProgram gives a child's exit code 42", () =>
    Effect.map(
      succeeds("runProgram of a child that exits 42"),
      (end) => assert.deepStrictEqual(end, { _tag: "Exited", code: 42 })
    ))

  it.effect("runProgram tells a child killed by SIGKILL by its signal", () =>
    Effect.map(
      succeeds("runProgram of a child killed by SIGKILL"),
      (end) => assert.deepStrictEqual(end, { _tag: "Killed", signal: "SIGKILL" })
    ))

  it.effect("runProgram of a missing program fails with ENOENT", () =>
    failsWith("runProgram of a program that does not exist", "spawn", "ENOENT", "/nonexistent/program"))

  it.effect("runProgram passes arguments, working directory and environment byte-exact", () =>
    Effect.map(succeeds("runProgram passes arguments, cwd and env byte-exact"), (result) => {
      const { end, expected, written } = result as { end: unknown; expected: unknown; written: unknown }
      assert.deepStrictEqual(end, { _tag: "Exited", code: 0 })
      assert.deepStrictEqual(written, expected)
    }))

  it.effect("the namespace gets a /dev and /sys of its own", () =>
    Effect.asVoid(succeeds("a /dev and /sys of our own")))

  it.effect("mountAll mounts what a user namespace allows and reports the rest together as OptionalMountError", () =>
    Effect.map(succeeds("mountAll of the system mount points"), (result) => {
      assert.deepStrictEqual(result, {
        failed: [
          { errno: "EPERM", path: "/dev/hugepages" },
          { errno: "EPERM", path: "/sys/fs/bpf" },
          { errno: "EPERM", path: "/sys/fs/cgroup" },
          { errno: "EPERM", path: "/sys/fs/fuse/connections" },
          { errno: "EPERM", path: "/sys/fs/pstore" },
          // sysfs has no kernel/config without configfs, and refuses mkdir.
          { errno: "EPERM", path: "/sys/kernel/config" },
          { errno: "EPERM", path: "/sys/kernel/debug" },
          { errno: "EPERM", path: "/sys/kernel/security" },
          { errno: "EPERM", path: "/sys/kernel/tracing" }
        ],
        mounted: ["/dev/mqueue mqueue", "/dev/pts devpts"]
      })
    }))

  it.effect("a required mount point that fails stops mountAll with its error", () =>
    failsWith("a required mount point that fails stops mountAll", "mount", "EPERM", "/tmp/required/a"))

  it.effect("createSymlinks makes the /dev links, read back with the targets given", () =>
    Effect.map(succeeds("createSymlinks of the /dev links"), (targets) => {
      assert.deepStrictEqual(targets, {
        "/dev/core": "/proc/kcore",
        "/dev/fd": "/proc/self/fd/",
        "/dev/rtc": "rtc0",
        "/dev/stderr": "/proc/self/fd/2",
        "/dev/stdin": "/proc/self/fd/0",
        "/dev/stdout": "/proc/self/fd/1"
      })
    }))

  it.effect("createSymlinks over existing links is EEXIST", () =>
    failsWith("createSymlinks over existing links", "symlink", "EEXIST", "/dev/core"))

  it.effect("setInterfaceUp brings lo up", () =>
    Effect.map(succeeds("setInterfaceUp lo"), (up) => assert.deepStrictEqual(up, { before: false, after: true })))

  it.effect("setInterfaceUp of an unknown interface is ENODEV", () =>
    failsWith("setInterfaceUp of an unknown interface", "ioctl", "ENODEV", "nosuch0"))

  it.effect("setHostname names the machine: /proc/sys/kernel/hostname and os.hostname() give the name", () =>
    Effect.map(succeeds("setHostname in the namespace's own UTS namespace"), (names) => {
      assert.deepStrictEqual(names, { proc: "sysinit-namespace\n", os: "sysinit-namespace" })
    }))

  it.effect("setHostname of a name longer than 64 bytes (33 two-byte characters) is EINVAL", () =>
    failsWith("setHostname of a name longer than 64 bytes", "sethostname", "EINVAL", "é".repeat(33)))

  it.effect("sysctl writes net.* keys of the new net namespace, read back", () =>
    Effect.map(succeeds("sysctl of a net key"), (values) => assert.deepStrictEqual(values, ["1", "1"])))

  it.effect("sysctl of an unknown key is ENOENT", () =>
    failsWith("sysctl of an unknown key", "open", "ENOENT", "/proc/sys/net/ipv4/nosuch"))

  it.effect("setEnv values are seen by a child spawned afterwards", () =>
    Effect.map(succeeds("setEnv seen by a child"), (output) => assert.strictEqual(output, "first second")))

  // EPERM where the kernel has modules (no CAP_SYS_MODULE in a user namespace); ENOSYS where it has none.
  it.effect("loadModule of a file that is not a module is a typed error", () =>
    Effect.map(outcome("loadModule of a file that is not a module"), (found) => {
      assert.strictEqual(found.kind, "SyscallError", JSON.stringify(found))
      if (found.kind !== "SyscallError") return
      assert.deepStrictEqual({ syscall: found.syscall, path: found.path }, {
        syscall: "finit_module",
        path: "/tmp/fake.ko"
      })
      assert.include(["EPERM", "ENOSYS"], found.errno)
    }))

  it.effect("loadModule of a missing file is ENOENT from open, before the kernel is asked", () =>
    failsWith("loadModule of a missing file", "open", "ENOENT", "/where/ever"))

  it.effect("loadModules of a compressed file that is not a module is a typed error naming the file and format", () =>
    Effect.map(outcome("loadModules of a compressed file that is not a module"), (found) => {
      assert.strictEqual(found.kind, "Failure", JSON.stringify(found))
      if (found.kind !== "Failure") return
      assert.include(String(found.error), "ModuleDecompressionError")
      assert.include(String(found.error), "xz module \"/tmp/modules/fake.ko.xz\"")
    }))
})
