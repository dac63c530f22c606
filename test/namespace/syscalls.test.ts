/**
 * The live kernel and Node process as PID 1 of fresh namespaces, in what
 * the contract (test/contract, run by contract.test.ts) cannot say alike for
 * both machines: what /proc shows, termios, stdio, the process's hooks, and
 * how reboot(2) ends a PID 1 of a pid namespace.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CLOCAL } from "../../src/kernels/libc.ts"
import { outcomes, program, runAsPidOne, scenarios, userNamespaces } from "./harness.ts"

const { run: sharedRun, succeeds } = scenarios("syscalls.ts")

const reboot = (command: string) => runAsPidOne(program("reboot.ts"), [command])

// asm-generic/termbits.h
const CS8 = 0o60
const CREAD = 0o200

describe.skipIf(!userNamespaces.available)("the live kernel as PID 1 of new namespaces", () => {
  describe("mount", () => {
    it.effect("mounts tmpfs on a new nested path, and /proc/self/mounts shows it there", () =>
      Effect.map(succeeds("mount tmpfs on a new nested path"), (lines) => {
        assert.deepStrictEqual(lines, ["scratch /tmp/nested/a/b tmpfs rw,relatime,size=1024k 0 0"])
      }))
  })

  describe("symlinks", () => {
    it.effect("read back with the targets given", () =>
      Effect.map(
        succeeds("symlink read back"),
        (targets) => assert.deepStrictEqual(targets, ["/proc/self/fd/", "rtc0"])
      ))
  })

  describe("environment", () => {
    it.effect("setEnv is seen by process.env and by a child spawned afterwards", () =>
      Effect.map(succeeds("setEnv seen by a child"), (seen) => {
        assert.deepStrictEqual(seen, { child: "seen by the child", inProcessEnv: "seen by the child" })
      }))
  })

  describe("files", () => {
    it.effect("fileType of a device is other", () =>
      Effect.map(succeeds("fileType of a device is other"), (type) => assert.strictEqual(type, "other")))
  })

  describe("consoles", () => {
    it.effect("raw mode sets c_cflag = CLOCAL and no processing, clears O_NONBLOCK, and writes and drain succeed", () =>
      Effect.map(succeeds("raw mode on a terminal"), (result) => {
        const { termios, ...flags } = result as { termios: unknown }
        assert.deepStrictEqual(flags, { nonBlockingWhenOpened: true, nonBlockingWhenRaw: false })
        // The pty driver forces CS8 | CREAD into c_cflag whatever is asked (pty_set_termios).
        assert.deepStrictEqual(termios, { c_iflag: 0, c_oflag: 0, c_cflag: CLOCAL | CS8 | CREAD, c_lflag: 0 })
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
