/**
 * The live kernel (`Layer.live`) in the tests' own process: not PID 1, as
 * whoever runs the tests. The contract's cases marked `onHost` (those that
 * change nothing of the host, privileged or not) must come to what the
 * memory kernel answers, or to what an ordinary process is answered where a
 * capability decides; then what only a real kernel shows: terminals (a
 * pseudo-terminal of this process's own), pipes, orphans handed to this
 * process, and the kernel's own refusals carried in the typed error. The
 * rest of the contract runs as PID 1 in the namespace tier.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { IFF_LOOPBACK } from "../../src/internal/abi.ts"
import { CLOCAL, cookedTermios, F_GETFL, loadLibc, O_NONBLOCK, TCGETS } from "../../src/kernels/libc.ts"
import * as LiveKernel from "../../src/kernels/liveKernel.ts"
import * as Layer from "../../src/Layer.ts"
import { Syscalls } from "../../src/Syscalls.ts"
import { nodeProcessContract } from "../contract/nodeProcess.ts"
import { assertOutcome, type Capability, expectedOnHost, type Outcome, outcomeOf } from "../contract/outcome.ts"
import { syscallsContractUnder } from "../contract/syscalls.ts"
import { syscallError } from "./helpers.ts"

const scratch = fs.mkdtempSync(join(tmpdir(), "effect-sysinit-live-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

const capabilityBits: Readonly<Record<Capability, number>> = {
  CAP_NET_ADMIN: 12,
  CAP_SYS_MODULE: 16,
  CAP_SYS_ADMIN: 21
}
const effective = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync("/proc/self/status", "latin1"))?.[1]}`)
const initialUserNamespace = fs.readFileSync("/proc/self/uid_map", "latin1").trim().split(/\s+/).join(" ") ===
  "0 0 4294967295"
/**
 * Whether this process holds a capability where the call checks it: without
 * it in its own user namespace, no; with it in the first one, yes; with it
 * in another (a rootless container), it depends on who owns the namespace
 * the call checks it in, which this cannot tell.
 */
const holds = (capability: Capability): boolean | undefined =>
  ((effective >> BigInt(capabilityBits[capability])) & 1n) === 0n ? false : initialUserNamespace ? true : undefined

const live = <A, E>(effect: Effect.Effect<A, E, Syscalls | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(Layer.live))

describe("the live kernel in this process keeps the contract where running it here changes nothing", () => {
  describe("Syscalls", () => {
    const rows = syscallsContractUnder(join(scratch, "contract")).filter((row) => row.onHost !== undefined)
    it.effect.each(rows)("$name", (row) =>
      Effect.map(
        Effect.exit(Effect.provide(row.run, Layer.live)),
        (exit) => assertOutcome(outcomeOf(exit), expectedOnHost(row, holds))
      ))
  })

  describe("NodeProcess", () => {
    it.effect.each(nodeProcessContract.filter((row) => row.onHost !== undefined))("$name", (row) =>
      Effect.map(
        Effect.exit(Effect.provide(row.run, Layer.live)),
        (exit) => assertOutcome(outcomeOf(exit), expectedOnHost(row, holds))
      ))
  })
})

// Linux's pseudo-terminal ioctls (asm-generic/ioctls.h), for the test's side of one.
const TIOCGPTN = 0x80045430
const TIOCSPTLCK = 0x40045431
const TIOCGWINSZ = 0x5413

/** A pseudo-terminal: its main side, opened with `openTerminal` (closed with the scope), and its other side's path. */
const pseudoTerminal = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  const libc = yield* loadLibc
  const main = yield* Effect.acquireRelease(
    syscalls.openTerminal("/dev/ptmx"),
    (fd) => Effect.ignore(syscalls.close(fd))
  )
  assert.strictEqual(libc.ioctlStruct(main, TIOCSPTLCK, Buffer.alloc(4)), 0, "unlockpt")
  const number = Buffer.alloc(4)
  assert.strictEqual(libc.ioctlStruct(main, TIOCGPTN, number), 0, "ptsname")
  return { main, path: `/dev/pts/${number.readUInt32LE(0)}` }
})

/** Opens with `open`, closed with the scope. */
const scopedFd = <E>(open: Effect.Effect<number, E, Syscalls>) =>
  Effect.acquireRelease(open, (fd) => Effect.ignore(Syscalls.use((syscalls) => syscalls.close(fd))))

const termiosOf = (fd: number) =>
  Effect.map(loadLibc, (libc) => {
    const buffer = Buffer.alloc(libc.structs.termiosSize)
    assert.strictEqual(libc.ioctlStruct(fd, TCGETS, buffer), 0)
    return libc.structs.decodeTermios(buffer)
  })

const statusFlags = (fd: number) => Effect.map(loadLibc, (libc) => libc.fcntlGet(fd, F_GETFL))

const text = (
  bytes: Uint8Array | undefined
) => (bytes === undefined ? undefined : Buffer.from(bytes).toString("latin1"))

/** Reads until `length` bytes came (a pty hands its data over in pieces, from a kernel worker). */
const readBytes = (fd: number, length: number) =>
  Effect.gen(function*() {
    const syscalls = yield* Syscalls
    let got = ""
    while (got.length < length) got += text(yield* syscalls.read(fd, length - got.length))
    return got
  })

/** `readAvailable` until it has something: the pty's data reaches the other side a moment after the write. */
const readAvailableSoon = (fd: number) =>
  Effect.gen(function*() {
    const syscalls = yield* Syscalls
    for (let i = 0; i < 200; i++) {
      const bytes = yield* syscalls.readAvailable(fd, 64)
      if (bytes !== undefined) return text(bytes)
      yield* Effect.sleep(5)
    }
    return assert.fail("nothing came")
  })

describe.skipIf(!fs.existsSync("/dev/ptmx"))(
  "the live kernel's terminals, on a pseudo-terminal of this process",
  () => {
    it.effect("openTerminal opens a terminal whose writes block; a console opened for reading does not wait", () =>
      live(Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const { main, path } = yield* pseudoTerminal
        assert.isTrue(yield* syscalls.isTerminal(main))
        assert.strictEqual((yield* statusFlags(main)) & O_NONBLOCK, 0, "blocking, as a program expects its stdio")
        const reading = yield* scopedFd(syscalls.openConsoleForReading(path))
        assert.notStrictEqual((yield* statusFlags(reading)) & O_NONBLOCK, 0, "O_NDELAY")
        assert.isUndefined(yield* syscalls.readAvailable(reading, 64), "nothing there yet: EAGAIN, not a wait")
      })))

    it.effect("raw mode: no input, output or line processing, CLOCAL, and writes that block", () =>
      live(Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const { main, path } = yield* pseudoTerminal
        const fd = yield* scopedFd(syscalls.openConsole(path))
        yield* syscalls.setRawMode(fd)
        const termios = yield* termiosOf(fd)
        assert.deepStrictEqual(
          { iflag: termios.c_iflag, oflag: termios.c_oflag, lflag: termios.c_lflag },
          { iflag: 0, oflag: 0, lflag: 0 }
        )
        assert.strictEqual(termios.c_cflag & CLOCAL, CLOCAL)
        assert.strictEqual((yield* statusFlags(fd)) & O_NONBLOCK, 0)
        // What the init writes to a host pipe arrives as written: no CR before NL, ^C is a byte.
        yield* syscalls.write(fd, Buffer.from("a\nb\u0003"))
        assert.strictEqual(yield* readBytes(main, 4), "a\nb\u0003")
      })))

    it.effect("raw mode on a console read: what the host sends arrives as sent, CR and all, without a line's end", () =>
      live(Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const { main, path } = yield* pseudoTerminal
        const fd = yield* scopedFd(syscalls.openConsoleForReading(path))
        yield* syscalls.setRawMode(fd)
        yield* syscalls.write(main, Buffer.from("x\ry"))
        assert.strictEqual(yield* readBytes(fd, 3), "x\ry")
      })))

    it.effect("cooked mode is a new terminal's: NL written as CR NL, CR read as NL, input by lines", () =>
      live(Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const { main, path } = yield* pseudoTerminal
        const fd = yield* scopedFd(syscalls.openTerminal(path))
        yield* syscalls.setRawMode(fd)
        yield* syscalls.setCookedMode(fd)
        const termios = yield* termiosOf(fd)
        assert.deepStrictEqual(
          { ...termios, c_line: 0, c_cc: Array.from(termios.c_cc) },
          { ...cookedTermios, c_line: 0, c_cc: Array.from(cookedTermios.c_cc) }
        )
        yield* syscalls.write(fd, Buffer.from("out\n"))
        yield* syscalls.drain(fd)
        assert.strictEqual(yield* readBytes(main, 5), "out\r\n")
        yield* syscalls.write(main, Buffer.from("in\r"))
        assert.strictEqual(yield* readBytes(fd, 3), "in\n")
      })))

    it.live("a console read without raw mode gives what came once a line is whole, without waiting", () =>
      live(Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const { main, path } = yield* pseudoTerminal
        const fd = yield* scopedFd(syscalls.openConsoleForReading(path))
        yield* syscalls.write(main, Buffer.from("half"))
        yield* Effect.sleep(20)
        assert.isUndefined(yield* syscalls.readAvailable(fd, 64), "half a line is nothing yet")
        yield* syscalls.write(main, Buffer.from(" line\n"))
        assert.strictEqual(yield* readAvailableSoon(fd), "half line\n")
      })))

    it.effect("setWindowSize sets what TIOCGWINSZ reads back", () =>
      live(Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const libc = yield* loadLibc
        const { main } = yield* pseudoTerminal
        yield* syscalls.setWindowSize(main, { rows: 50, columns: 132 })
        const winsize = Buffer.alloc(libc.structs.winsizeSize)
        assert.strictEqual(libc.ioctlStruct(main, TIOCGWINSZ, winsize), 0)
        assert.deepStrictEqual([winsize.readUInt16LE(0), winsize.readUInt16LE(2)], [50, 132])
      })))

    it("reopenStdio makes the device this process's stdin, stdout and stderr", async () => {
      const syscalls = await Effect.runPromise(LiveKernel.make)
      const libc = await Effect.runPromise(loadLibc)
      const F_DUPFD_CLOEXEC = 1030
      const stdio = [0, 1, 2]
      const saved = stdio.map((fd) => libc.fcntlSet(fd, F_DUPFD_CLOEXEC, 10))
      assert.isTrue(saved.every((fd) => fd >= 10), "stdio saved")
      const main = libc.open("/dev/ptmx", 0o2 | 0o400)
      try {
        assert.strictEqual(libc.ioctlStruct(main, TIOCSPTLCK, Buffer.alloc(4)), 0)
        const number = Buffer.alloc(4)
        assert.strictEqual(libc.ioctlStruct(main, TIOCGPTN, number), 0)
        const path = `/dev/pts/${number.readUInt32LE(0)}`
        let terminals: ReadonlyArray<boolean>
        // Synchronous from the swap to the restore: nothing else of this process writes to 0, 1 or 2 meanwhile.
        try {
          Effect.runSync(syscalls.reopenStdio(path))
          terminals = Effect.runSync(Effect.forEach(stdio, (fd) => syscalls.isTerminal(fd)))
          fs.writeSync(1, "one ")
          fs.writeSync(2, "two")
        } finally {
          for (const fd of stdio) libc.dup2(saved[fd]!, fd)
        }
        assert.deepStrictEqual(terminals, [true, true, true])
        const got = Buffer.alloc(64)
        let read = ""
        while (read.length < 7) read += got.subarray(0, Math.max(0, libc.read(main, got))).toString("latin1")
        assert.strictEqual(read, "one two")
      } finally {
        for (const fd of saved) libc.close(fd)
        libc.close(main)
      }
    })
  }
)

const hasMkfifo = (() => {
  try {
    execFileSync("mkfifo", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** A FIFO of its own under the scratch directory. */
const fifo = (name: string): string => {
  const path = join(scratch, name)
  execFileSync("mkfifo", [path])
  return path
}

describe.skipIf(!hasMkfifo)("the live kernel's consoles on a pipe (a FIFO)", () => {
  it.effect("a console nobody reads cannot be opened for writing: ENXIO, carried with its path", () =>
    live(Effect.gen(function*() {
      const path = fifo("unread")
      const error = yield* syscallError(Syscalls.use((syscalls) => syscalls.openConsole(path)))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["open", "ENXIO", path])
    })))

  it.effect("readAvailable: undefined while nothing came, then what came, then empty once the writer is gone", () =>
    live(Effect.gen(function*() {
      const syscalls = yield* Syscalls
      const path = fifo("available")
      const reader = yield* scopedFd(syscalls.openConsoleForReading(path))
      const writer = yield* syscalls.openConsole(path)
      assert.isUndefined(yield* syscalls.readAvailable(reader, 64))
      yield* syscalls.write(writer, Buffer.from("abc"))
      assert.strictEqual(text(yield* syscalls.readAvailable(reader, 64)), "abc")
      yield* syscalls.close(writer)
      assert.strictEqual(text(yield* syscalls.readAvailable(reader, 64)), "")
      assert.strictEqual(text(yield* syscalls.read(reader, 64)), "", "read: empty at the end of the input")
    })))

  it.live(
    "a write larger than the pipe holds is written whole, waiting while the reader drains it",
    () =>
      live(Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const path = fifo("large")
        const out = join(scratch, "large.out")
        const outFd = fs.openSync(out, "w")
        const reader = spawn("cat", [path], { stdio: ["ignore", outFd, "inherit"] })
        const exited = new Promise<number | null>((resolve) => reader.once("exit", resolve))
        fs.closeSync(outFd)
        // The reader is there once cat is in its open(2): until then, ENXIO.
        let writer: number | undefined
        for (let i = 0; writer === undefined; i++) {
          const opened = yield* Effect.exit(syscalls.openConsole(path))
          if (opened._tag === "Success") writer = opened.value
          else if (i === 1000 || outcomeOf(opened).kind !== "SyscallError") return yield* opened
          else yield* Effect.sleep(5)
        }
        const data = Buffer.alloc(1024 * 1024)
        for (let i = 0; i < data.length; i++) data[i] = i % 251
        yield* syscalls.write(writer, data)
        yield* syscalls.close(writer)
        assert.strictEqual(yield* Effect.promise(() => exited), 0)
        assert.isTrue(fs.readFileSync(out).equals(data))
      })),
    20_000
  )
})

describe("the live kernel's children", () => {
  it.live(
    "an orphan handed to this process is a zombie child once it exits; waitpid gives its status and reaps it",
    () =>
      live(Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const koffi = (yield* Effect.promise(() => import("koffi"))).default
        const prctl = koffi.load("libc.so.6").func(
          "int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)"
        )
        const PR_SET_CHILD_SUBREAPER = 36
        // As PID 1 is for every orphan of a machine: the subshell's parent exits, and it is handed to this process.
        assert.strictEqual(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0)
        yield* Effect.addFinalizer(() => Effect.sync(() => prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)))
        const pid = Number(
          execFileSync("sh", ["-c", "(sleep 0.3; exit 7) >/dev/null 2>&1 </dev/null & echo $!"], { encoding: "utf8" })
        )
        assert.isUndefined(yield* syscalls.waitpid(pid), "still running")
        for (let i = 0; i < 400 && !(yield* syscalls.zombieChildren).includes(pid); i++) yield* Effect.sleep(10)
        assert.include(yield* syscalls.zombieChildren, pid)
        assert.deepStrictEqual(yield* syscalls.waitpid(pid), { pid, status: 7 << 8 })
        assert.notInclude(yield* syscalls.zombieChildren, pid)
        const error = yield* syscallError(syscalls.waitpid(pid))
        assert.strictEqual(error.errno, "ECHILD", "reaped once")
      })),
    20_000
  )
})

describe("the live kernel's other calls, in this process", () => {
  it.effect("getpid through syscall(2) and this architecture's table is this process's pid", () =>
    Effect.gen(function*() {
      const libc = yield* loadLibc
      assert.strictEqual(libc.syscallGetpid(), process.pid)
      assert.strictEqual(libc.getpid(), process.pid)
    }))

  it.effect("lo's flags read back as a loopback interface's", () =>
    live(Effect.gen(function*() {
      const flags = yield* (yield* Syscalls).interfaceFlags("lo")
      assert.strictEqual(flags & IFF_LOOPBACK, IFF_LOOPBACK)
    })))

  it.effect("the kernel's own refusal of a wall clock it cannot keep reaches the typed error: EINVAL", () =>
    live(Effect.gen(function*() {
      const syscalls = yield* Syscalls
      // Year 3 billion: past what the kernel's time keeps, refused before any privilege is looked at.
      const error = yield* syscallError(syscalls.setClock(1e20))
      assert.deepStrictEqual([error.syscall, error.errno], ["clock_settime", "EINVAL"])
      const notANumber = yield* syscallError(syscalls.setClock(Number.NaN))
      assert.strictEqual(notANumber.errno, "EINVAL")
    })))

  it.effect("addEntropy of no bytes is taken with CAP_SYS_ADMIN, else EPERM from its ioctl on /dev/urandom", () =>
    live(Effect.gen(function*() {
      const syscalls = yield* Syscalls
      // No bytes, no credit: with the capability, only the reseed the kernel makes on its own anyway.
      const exit = yield* Effect.exit(syscalls.addEntropy(new Uint8Array()))
      const outcome = outcomeOf(exit)
      const held = holds("CAP_SYS_ADMIN")
      const refused: Outcome = { kind: "SyscallError", syscall: "ioctl", errno: "EPERM", path: "/dev/urandom" }
      if (held === true) assert.deepStrictEqual(outcome, { kind: "Success", value: undefined })
      else if (held === false) assert.deepStrictEqual(outcome, refused)
      else assert.oneOf(JSON.stringify(outcome), [JSON.stringify({ kind: "Success" }), JSON.stringify(refused)])
    })))

  it.effect("writeFile gives a file it creates its mode less the umask's bits; a file that exists keeps its own", () =>
    live(Effect.gen(function*() {
      const syscalls = yield* Syscalls
      const umask = Number.parseInt(/^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync("/proc/self/status", "latin1"))![1]!, 8)
      const path = join(scratch, "mode")
      yield* syscalls.writeFile(path, "first", 0o664)
      assert.strictEqual(fs.statSync(path).mode & 0o777, 0o664 & ~umask)
      yield* syscalls.writeFile(path, "second", 0o600)
      assert.strictEqual(fs.statSync(path).mode & 0o777, 0o664 & ~umask)
      assert.strictEqual(fs.readFileSync(path, "latin1"), "second")
    })))

  it.effect("fileType: a device is other, a link is what it points to", () =>
    live(Effect.gen(function*() {
      const syscalls = yield* Syscalls
      fs.symlinkSync(scratch, join(scratch, "to-dir"))
      assert.deepStrictEqual(
        [yield* syscalls.fileType("/dev/null"), yield* syscalls.fileType(join(scratch, "to-dir"))],
        ["other", "directory"]
      )
    })))

  it.effect("glob: patterns beyond * (** and braces) are node's glob, sorted; relative ones are taken from /", () =>
    live(Effect.gen(function*() {
      const syscalls = yield* Syscalls
      const dir = join(scratch, "glob")
      // mkdirAll takes a relative path from / too, the init's working directory.
      yield* syscalls.mkdirAll(`${dir.slice(1)}/b/deep`, 0o755)
      yield* syscalls.mkdirAll(`${dir}/a`, 0o755)
      for (const file of ["b/deep/z.ko", "a/y.ko", "x.ko", "a/w.txt"]) yield* syscalls.writeFile(`${dir}/${file}`, "")
      assert.deepStrictEqual(yield* syscalls.glob(`${dir}/**/*.ko`), [
        `${dir}/a/y.ko`,
        `${dir}/b/deep/z.ko`,
        `${dir}/x.ko`
      ])
      assert.deepStrictEqual(yield* syscalls.glob(`${dir.slice(1)}/{a,b}/*.{ko,txt}`), [
        `${dir}/a/w.txt`,
        `${dir}/a/y.ko`
      ])
    })))
})
