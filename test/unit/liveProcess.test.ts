/**
 * The live `NodeProcess` (`Layer.live`) on the tests' own Node process: the
 * environment, signals, the faults it catches and gives back, the children
 * Node spawned, programs run as children, stdout and stderr. Each hook is
 * undone with its scope, which these tests check too: they run in vitest's
 * worker, whose own handlers are set aside while a fault is raised.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Queue } from "effect"
import { spawn } from "node:child_process"
import { EventEmitter } from "node:events"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExitRequest } from "../../src/internal/exitRequest.ts"
import { loadLibc } from "../../src/kernels/libc.ts"
import * as LiveProcess from "../../src/kernels/liveProcess.ts"
import * as Layer from "../../src/Layer.ts"
import { NodeProcess, type ProcessFault } from "../../src/NodeProcess.ts"
import { syscallError } from "./helpers.ts"

const scratch = fs.mkdtempSync(join(tmpdir(), "effect-sysinit-process-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))
const file = (name: string) => join(scratch, name)
const shell = "/bin/sh"

const withProcess = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, Layer.live)

/** A file opened for writing for the scope's lifetime: a child's stdout, or this process's. */
const output = (name: string) =>
  Effect.acquireRelease(Effect.sync(() => fs.openSync(file(name), "w")), (fd) => Effect.sync(() => fs.closeSync(fd)))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("the live NodeProcess: environment and signals", () => {
  it.effect("setEnv is seen by process.env, getEnv, and a child spawned afterwards", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      yield* Effect.addFinalizer(() => Effect.sync(() => delete process.env["SYSINIT_UNIT_VALUE"]))
      yield* nodeProcess.setEnv("SYSINIT_UNIT_VALUE", "a b=c")
      assert.strictEqual(process.env["SYSINIT_UNIT_VALUE"], "a b=c")
      assert.strictEqual(yield* nodeProcess.getEnv("SYSINIT_UNIT_VALUE"), "a b=c")
      const end = yield* nodeProcess.runChild({
        command: shell,
        args: ["-c", "test \"$SYSINIT_UNIT_VALUE\" = \"a b=c\""],
        stdout: 1,
        stderr: 2
      })
      assert.deepStrictEqual(end, { _tag: "Exited", code: 0 })
    })))

  it.live("signals queues each signal handled, for the scope's lifetime", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const before = process.listenerCount("SIGPWR") + process.listenerCount("SIGHUP")
      yield* Effect.scoped(Effect.gen(function*() {
        const signals = yield* nodeProcess.signals(["SIGPWR", "SIGHUP"])
        process.kill(process.pid, "SIGPWR")
        assert.strictEqual(yield* Queue.take(signals), "SIGPWR")
        process.kill(process.pid, "SIGHUP")
        assert.strictEqual(yield* Queue.take(signals), "SIGHUP")
      }))
      assert.strictEqual(process.listenerCount("SIGPWR") + process.listenerCount("SIGHUP"), before, "handlers removed")
    })))
})

const faultEvents = ["uncaughtException", "unhandledRejection", "beforeExit"] as const

/** vitest's own handlers of the fault events, set aside for the scope's lifetime, so that a fault raised here is only the init's. */
const asideVitestHandlers = Effect.acquireRelease(
  Effect.sync(() => {
    const saved = faultEvents.map((event) => [event, EventEmitter.prototype.listeners.call(process, event)] as const)
    for (const event of faultEvents) process.removeAllListeners(event)
    return saved
  }),
  (saved) =>
    Effect.sync(() => {
      for (const [event, listeners] of saved) {
        for (const listener of listeners) {
          EventEmitter.prototype.on.call(process, event, listener as (...args: Array<unknown>) => void)
        }
      }
    })
)

describe("the live NodeProcess: what would end the process", () => {
  it.live("processFaults catches a throw nobody caught, a rejection nobody handled, process.exit and an empty loop", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      yield* asideVitestHandlers
      const exit = process.exit
      const exitCode = process.exitCode
      const caught: Array<ProcessFault> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const faults = yield* nodeProcess.processFaults
        const next = Effect.map(Queue.take(faults), (fault) => void caught.push(fault))
        assert.throws(() => process.exit(3), ExitRequest)
        yield* next
        process.exitCode = 5
        assert.throws(() => process.exit(), ExitRequest, undefined, "the code after process.exit does not run")
        process.exitCode = exitCode
        yield* next
        assert.throws(() => process.exit(2.5 as number), ExitRequest)
        yield* next
        const error = new Error("nobody caught me")
        process.emit("uncaughtException", error)
        yield* next
        // process.exit's own throw, uncaught: it reported itself already.
        process.emit("uncaughtException", new ExitRequest(4))
        assert.isTrue(Option.isNone(yield* Queue.poll(faults)))
        const rejection = Promise.reject(new Error("nobody handled me"))
        rejection.catch(() => {})
        process.emit("unhandledRejection", "the reason", rejection)
        yield* next
        process.emit("beforeExit", 0)
        yield* next
        assert.strictEqual(process.exit === exit, false, "replaced while the scope is open")
      }))
      assert.deepStrictEqual(caught, [
        { _tag: "ProcessExit", code: 3 },
        { _tag: "ProcessExit", code: 5 },
        { _tag: "ProcessExit", code: 1 },
        { _tag: "UncaughtException", error: caught[3]?._tag === "UncaughtException" ? caught[3].error : undefined },
        { _tag: "UnhandledRejection", reason: "the reason" },
        { _tag: "EventLoopEmpty" }
      ])
      assert.strictEqual((caught[3] as { readonly error: Error }).error.message, "nobody caught me")
      assert.strictEqual(process.exit, exit, "process.exit given back")
      for (const event of faultEvents) assert.strictEqual(process.listenerCount(event), 0, `${event} handler removed`)
    })))
})

describe("the live NodeProcess: children", () => {
  it.effect("runChild gives a program's exit code, or the signal that killed it", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const run = (script: string) =>
        nodeProcess.runChild({ command: shell, args: ["-c", script], stdout: 1, stderr: 2 })
      assert.deepStrictEqual(yield* run("exit 3"), { _tag: "Exited", code: 3 })
      assert.deepStrictEqual(yield* run("kill -TERM $$"), { _tag: "Killed", signal: "SIGTERM" })
    })))

  it.effect("runChild runs in the cwd given, with the whole environment given, its stdio on the descriptors given", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const stdout = yield* output("stdout")
      fs.writeFileSync(file("stdin"), "from stdin\n")
      const stdin = fs.openSync(file("stdin"), "r")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.closeSync(stdin)))
      yield* nodeProcess.runChild({
        command: shell,
        args: ["-c", "pwd; echo \"$ONLY ${HOME-no HOME}\"; read line; echo \"got $line\"; echo to stderr >&2"],
        cwd: scratch,
        env: { ONLY: "only this" },
        stdin,
        stdout,
        stderr: stdout
      })
      assert.strictEqual(
        fs.readFileSync(file("stdout"), "utf8"),
        `${fs.realpathSync(scratch)}\nonly this no HOME\ngot from stdin\nto stderr\n`
      )
    })))

  it.effect("runChild's stdin is /dev/null when none is given", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const stdout = yield* output("null-stdin")
      yield* nodeProcess.runChild({ command: shell, args: ["-c", "read line || echo end"], stdout, stderr: 2 })
      assert.strictEqual(fs.readFileSync(file("null-stdin"), "utf8"), "end\n")
    })))

  it.effect("a program that is not executable fails with exec's EACCES, naming it", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const program = file("not-executable")
      fs.writeFileSync(program, "#!/bin/sh\nexit 0\n", { mode: 0o644 })
      const error = yield* syscallError(nodeProcess.runChild({ command: program, args: [], stdout: 1, stderr: 2 }))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["spawn", "EACCES", program])
    })))

  it.live(
    "an interrupted runChild kills its program with SIGKILL and waits for it; Node tracks it meanwhile",
    () =>
      withProcess(Effect.gen(function*() {
        const nodeProcess = yield* NodeProcess
        const before = yield* nodeProcess.spawnedChildren
        const running = yield* Effect.forkChild(
          nodeProcess.runChild({ command: shell, args: ["-c", "exec sleep 30"], stdout: 1, stderr: 2 })
        )
        let pid: number | undefined
        for (let i = 0; i < 500 && pid === undefined; i++) {
          pid = [...(yield* nodeProcess.spawnedChildren)].find((child) => !before.has(child))
          if (pid === undefined) yield* Effect.sleep(5)
        }
        assert.isDefined(pid, "the program is among the children Node spawned")
        assert.isTrue(alive(pid!))
        yield* Fiber.interrupt(running)
        assert.isFalse(alive(pid!), "killed and reaped before the interruption returns")
        assert.isFalse((yield* nodeProcess.spawnedChildren).has(pid!))
      })),
    20_000
  )

  it.live("spawnedChildren holds what node:child_process spawned until Node sees it exit", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const child = spawn(shell, ["-c", "sleep 0.2"], { stdio: "ignore" })
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      assert.isTrue((yield* nodeProcess.spawnedChildren).has(child.pid!))
      yield* Effect.promise(() => exited)
      assert.isFalse((yield* nodeProcess.spawnedChildren).has(child.pid!))
    })))
})

/** Runs `write` with this process's fd 2 on `fd`, then puts it back; synchronous throughout. */
const withStderrOn = (fd: number, write: () => void) =>
  Effect.map(loadLibc, (libc) => {
    const F_DUPFD_CLOEXEC = 1030
    const saved = libc.fcntlSet(2, F_DUPFD_CLOEXEC, 10)
    assert.isAtLeast(saved, 10)
    try {
      assert.strictEqual(libc.dup2(fd, 2), 2)
      write()
    } finally {
      libc.dup2(saved, 2)
      libc.close(saved)
    }
  })

describe("the live NodeProcess: output", () => {
  it.effect("writeStderr writes to fd 2 at once, and a broken one costs the line, not the process", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const fd = yield* output("stderr")
      yield* withStderrOn(fd, () => Effect.runSync(nodeProcess.writeStderr("to console 0\n")))
      assert.strictEqual(fs.readFileSync(file("stderr"), "utf8"), "to console 0\n")
      const readOnly = fs.openSync("/dev/null", "r")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.closeSync(readOnly)))
      yield* withStderrOn(readOnly, () => Effect.runSync(nodeProcess.writeStderr("lost\n")))
    })))

  it.effect("redirectStdout sends process.stdout's writes to a descriptor, and back", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const original = process.stdout.write
      const fd = yield* output("stdout-redirected")
      const calledBack: Array<Error | null | undefined> = []
      yield* nodeProcess.redirectStdout(fd)
      try {
        process.stdout.write("text ")
        process.stdout.write(Buffer.from("bytes "))
        process.stdout.write("\u00e9", "latin1")
        process.stdout.write(" done", (error) => void calledBack.push(error))
      } finally {
        yield* nodeProcess.redirectStdout(undefined)
      }
      assert.strictEqual(process.stdout.write, original, "process.stdout's own write again")
      yield* nodeProcess.redirectStdout(undefined)
      assert.strictEqual(process.stdout.write, original, "nothing to undo")
      assert.deepStrictEqual(
        fs.readFileSync(file("stdout-redirected")),
        Buffer.from("text bytes \u00e9 done", "latin1")
      )
      yield* Effect.promise(() => new Promise((resolve) => process.nextTick(resolve)))
      assert.deepStrictEqual(calledBack, [null], "the callback, after the write")
    })))

  it.effect("a write to a broken stdout is reported to its callback, never thrown", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const readOnly = fs.openSync("/dev/null", "r")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.closeSync(readOnly)))
      const calledBack: Array<Error | null | undefined> = []
      yield* nodeProcess.redirectStdout(readOnly)
      try {
        assert.isTrue(process.stdout.write("lost", (error) => void calledBack.push(error)))
      } finally {
        yield* nodeProcess.redirectStdout(undefined)
      }
      yield* Effect.promise(() => new Promise((resolve) => process.nextTick(resolve)))
      assert.strictEqual(calledBack.length, 1)
      assert.match(String(calledBack[0]), /EBADF/)
    })))

  it.live("settleOutput waits until the writes in flight are done", () =>
    withProcess(Effect.gen(function*() {
      const nodeProcess = yield* NodeProcess
      const data = Buffer.alloc(16 * 1024 * 1024, 1)
      let written = false
      fs.writeFile(file("in-flight"), data, () => void (written = true))
      yield* nodeProcess.settleOutput
      assert.isTrue(written, "the write's callback ran")
      assert.strictEqual(fs.statSync(file("in-flight")).size, data.length)
      yield* nodeProcess.settleOutput
    })))

  it("spawnedChildren is the one tracking of the process, whichever make reads it", () => {
    const first = LiveProcess.make()
    const second = LiveProcess.make()
    const child = spawn(shell, ["-c", "exit 0"], { stdio: "ignore" })
    assert.isTrue(Effect.runSync(first.spawnedChildren).has(child.pid!))
    assert.isTrue(Effect.runSync(second.spawnedChildren).has(child.pid!), "one tracking, not one per make")
    return new Promise<void>((resolve) => child.once("exit", () => resolve()))
  })
})
