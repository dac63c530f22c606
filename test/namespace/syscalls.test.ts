/**
 * The live Syscalls service against the real kernel, as PID 1 of fresh
 * namespaces. The errnos asserted here are the ones this kernel answered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { IFF_UP } from "../../src/internal/abi.ts"
import { CLOCAL } from "../../src/internal/libc.ts"
import { outcomes, program, runAsPidOne, scenarios, userNamespaces } from "./harness.ts"

const { failsWith, outcome, run: sharedRun, succeeds } = scenarios("syscalls.ts")

const reboot = (command: string) => runAsPidOne(program("reboot.ts"), [command])

// asm-generic/termbits.h
const CS8 = 0o60
const CREAD = 0o200

describe.skipIf(!userNamespaces.available)("the live kernel as PID 1 of new namespaces", () => {
  it.effect("getpid is 1", () => Effect.map(succeeds("getpid"), (pid) => assert.strictEqual(pid, 1)))

  describe("mount", () => {
    it.effect("mounts tmpfs on a new nested path, and /proc/self/mounts shows it there", () =>
      Effect.map(succeeds("mount tmpfs on a new nested path"), (lines) => {
        assert.deepStrictEqual(lines, ["scratch /tmp/nested/a/b tmpfs rw,relatime,size=1024k 0 0"])
      }))

    it.effect("an empty path is ENOENT", () => failsWith("mount on an empty path", "mount", "ENOENT", ""))

    it.effect("an empty type is ENODEV", () =>
      failsWith("mount of an empty type", "mount", "ENODEV", "/tmp/empty-type"))

    it.effect("an unknown type is ENODEV", () =>
      failsWith("mount of an unknown type", "mount", "ENODEV", "/tmp/unknown-type"))

    it.effect("a missing mount point is ENOENT", () =>
      failsWith("mount on a missing directory", "mount", "ENOENT", "/tmp/missing"))

    it.effect(
      "the same type twice on one point is EBUSY for single-instance types (sysfs, mqueue); tmpfs, proc and devpts stack",
      () =>
        Effect.map(succeeds("mount the same type twice on one point"), (results) => {
          assert.deepStrictEqual(results, {
            tmpfs: { first: "ok", second: "ok" },
            proc: { first: "ok", second: "ok" },
            sysfs: { first: "ok", second: { errno: "EBUSY" } },
            mqueue: { first: "ok", second: { errno: "EBUSY" } },
            devpts: { first: "ok", second: "ok" },
            // Refused to a user namespace outright.
            cgroup2: { first: { errno: "EPERM" }, second: { errno: "EPERM" } },
            bpf: { first: { errno: "EPERM" }, second: { errno: "EPERM" } },
            devtmpfs: { first: { errno: "EPERM" }, second: { errno: "EPERM" } }
          })
        })
    )

    it.effect("umount of a mount point succeeds, then is EINVAL", () =>
      Effect.map(succeeds("umount"), (results) => {
        assert.deepStrictEqual(results, { mounted: "ok", notMounted: { errno: "EINVAL" } })
      }))
  })

  describe("symlinks", () => {
    it.effect("read back with the targets given", () =>
      Effect.map(
        succeeds("symlink read back"),
        (targets) => assert.deepStrictEqual(targets, ["/proc/self/fd/", "rtc0"])
      ))

    it.effect("a link over an existing path is EEXIST", () =>
      failsWith("symlink over an existing path", "symlink", "EEXIST", "/tmp/core"))

    it.effect("readlink of a file that is not a link is EINVAL", () =>
      failsWith("readlink of a file that is not a link", "readlink", "EINVAL", "/proc/self/mounts"))
  })

  describe("network interfaces", () => {
    it.effect("lo of a new net namespace is down, and comes up", () =>
      Effect.map(succeeds("lo up"), (flags) => {
        const { after, before } = flags as { before: number; after: number }
        assert.strictEqual(before & IFF_UP, 0)
        assert.strictEqual(after & IFF_UP, IFF_UP)
      }))

    it.effect("flags of an unknown interface are ENODEV", () =>
      failsWith("flags of an unknown interface", "ioctl", "ENODEV", "nosuch0"))

    it.effect("bringing up an unknown interface is ENODEV", () =>
      failsWith("up of an unknown interface", "ioctl", "ENODEV", "nosuch0"))

    it.effect("a name of IFNAMSIZ bytes or more is ENODEV, not another interface", () =>
      failsWith("flags of a name longer than IFNAMSIZ", "ioctl", "ENODEV", "lo-and-a-very-long-name"))
  })

  describe("sysctls", () => {
    it.effect("a net.* key of the new net namespace is written and read back", () =>
      Effect.map(succeeds("sysctl write and read back"), (values) => {
        assert.deepStrictEqual(values, { before: "0\n", after: "1\n" })
      }))

    it.effect("writing an unknown key is ENOENT", () =>
      failsWith("write of an unknown sysctl", "open", "ENOENT", "/proc/sys/net/ipv4/nosuch"))

    it.effect("reading an unknown key is ENOENT", () =>
      failsWith("read of an unknown sysctl", "open", "ENOENT", "/proc/sys/net/ipv4/nosuch"))
  })

  describe("environment", () => {
    it.effect("setEnv is seen by getEnv and by a child spawned afterwards", () =>
      Effect.map(succeeds("setEnv seen by a child"), (seen) => {
        assert.deepStrictEqual(seen, { child: "seen by the child", inGetEnv: "seen by the child" })
      }))

    it.effect("an empty name or one with = is EINVAL", () =>
      Effect.map(succeeds("setEnv with an invalid name"), (results) => {
        assert.deepStrictEqual(results, { empty: { errno: "EINVAL" }, equals: { errno: "EINVAL" } })
      }))
  })

  describe("modules", () => {
    // EPERM: a user namespace lacks CAP_SYS_MODULE; ENOSYS: a kernel without module support (this sandbox's).
    it.effect("finitModule of a file that is not a module is refused with a typed error", () =>
      Effect.map(outcome("finitModule of a file that is not a module"), (found) => {
        assert.strictEqual(found.kind, "SyscallError")
        if (found.kind !== "SyscallError") return
        assert.strictEqual(found.syscall, "finit_module")
        assert.include(["EPERM", "ENOSYS"], found.errno)
      }))

    it.effect("initModule of bytes that are not a module is refused with a typed error", () =>
      Effect.map(outcome("initModule of bytes that are not a module"), (found) => {
        assert.strictEqual(found.kind, "SyscallError")
        if (found.kind !== "SyscallError") return
        assert.strictEqual(found.syscall, "init_module")
        assert.include(["EPERM", "ENOSYS"], found.errno)
      }))

    it.effect("finitModule of a missing file is ENOENT from open", () =>
      failsWith("finitModule of a missing file", "open", "ENOENT", "/tmp/missing.ko"))
  })

  describe("files", () => {
    it.effect("mkdirAll, writeFile, readFile, glob and fileType behave as on Linux", () =>
      Effect.map(succeeds("files and directories"), (results) => {
        assert.deepStrictEqual(results, {
          glob: ["/tmp/files/modules/a.ko", "/tmp/files/modules/b.ko"],
          read: [0, 1, 2],
          types: ["file", "directory", "other"],
          missing: { errno: "ENOENT" },
          mkdirOverFile: { errno: "EEXIST" },
          readDirectory: { errno: "EISDIR" }
        })
      }))
  })

  describe("consoles", () => {
    it.effect("openConsole of a missing /dev/hvc0 is ENOENT", () =>
      failsWith("openConsole of a missing /dev/hvc0", "open", "ENOENT", "/dev/hvc0"))

    it.effect("raw mode sets c_cflag = CLOCAL and no processing, clears O_NONBLOCK, and writes and drain succeed", () =>
      Effect.map(succeeds("raw mode on a terminal"), (result) => {
        const { termios, ...flags } = result as { termios: unknown }
        assert.deepStrictEqual(flags, { nonBlockingWhenOpened: true, nonBlockingWhenRaw: false })
        // The pty driver forces CS8 | CREAD into c_cflag whatever is asked (pty_set_termios).
        assert.deepStrictEqual(termios, { c_iflag: 0, c_oflag: 0, c_cflag: CLOCAL | CS8 | CREAD, c_lflag: 0 })
      }))

    it.effect("raw mode on a file that is not a terminal is ENOTTY", () =>
      failsWith("raw mode on a file that is not a terminal", "ioctl", "ENOTTY"))

    it.effect("write writes all of a large buffer; a closed descriptor is EBADF", () =>
      Effect.map(succeeds("write of a large buffer and close twice"), (results) => {
        assert.deepStrictEqual(results, {
          size: 4 * 1024 * 1024,
          closeAgain: { errno: "EBADF" },
          writeClosed: { errno: "EBADF" }
        })
      }))

    it.effect("isTerminal says false for a pipe and EBADF for a closed fd; reopenStdio puts one device on 0, 1 and 2", () =>
      Effect.map(succeeds("isTerminal and reopenStdio on a pseudo-terminal"), (value) => {
        assert.deepStrictEqual(value, {
          saved: [100, 101, 102],
          stdioBefore: false,
          missing: { errno: "ENOENT" },
          reopened: "ok",
          stdioAfter: [true, true, true],
          links: ["/tmp/stdio-pts/ptmx", "/tmp/stdio-pts/ptmx", "/tmp/stdio-pts/ptmx"],
          closed: { errno: "EBADF" },
          restored: false
        })
      }))

    it.effect("redirectStdout sends console.log, process.stdout and Effect's Console to the descriptor, then back", () =>
      Effect.gen(function*() {
        const written = yield* succeeds("redirectStdout and back")
        assert.strictEqual(written, "console.log 1\nprocess.stdout.write\nEffect Console\n")
        const run = yield* sharedRun
        const lines = run.stdout.split("\n")
        assert.include(lines, "back on stdout")
        assert.notInclude(lines, "Effect Console")
      }))

    it.effect("writeStderr writes to stderr", () =>
      Effect.gen(function*() {
        yield* succeeds("writeStderr")
        assert.include((yield* sharedRun).stderr, "written to stderr\n")
      }))
  })

  describe("reboot", () => {
    it.effect("RESTART ends PID 1 with SIGHUP, which the parent sees", () =>
      Effect.map(reboot("restart"), (run) => {
        assert.deepStrictEqual({ signal: run.signal, exitCode: run.exitCode }, { signal: "SIGHUP", exitCode: null })
        assert.notInclude(run.stdout, "OUTCOME restart", run.stderr)
      }))

    it.effect("HALT ends PID 1 with SIGINT", () =>
      Effect.map(reboot("halt"), (run) => {
        assert.deepStrictEqual({ signal: run.signal, exitCode: run.exitCode }, { signal: "SIGINT", exitCode: null })
      }))

    it.effect("POWER_OFF ends PID 1 with SIGINT", () =>
      Effect.map(reboot("power off"), (run) => {
        assert.deepStrictEqual({ signal: run.signal, exitCode: run.exitCode }, { signal: "SIGINT", exitCode: null })
      }))

    it.effect("an unknown command is EINVAL", () =>
      Effect.map(reboot("unknown command"), (run) => {
        assert.deepStrictEqual(outcomes(run).get("unknown command"), {
          kind: "SyscallError",
          syscall: "reboot",
          errno: "EINVAL"
        })
      }))
  })
})
