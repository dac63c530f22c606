/**
 * `effect-sysinit shell` in this process (cliInProcess.ts) with a fake QEMU
 * (fakeQemu.ts), and the host terminal it joins to the guest's
 * (hostTerminal.ts) with a terminal of the test's own. With a pipe on
 * stdin, the shell reads what the pipe held, as a file of the run; with a
 * terminal, the run asks for a terminal of the guest at the host
 * terminal's size, the host terminal is in raw mode while the shell runs
 * and as it was after, and keys go to the guest's terminal and what it
 * writes back to stdout. The session alone: raw mode restored however it
 * ends (also when the process ends first, or when the terminal went away),
 * the terminal's size sent at the start when it changed and at each
 * SIGWINCH when it did. The refusals of `shell` are cliRefusals.test.ts's;
 * what a shell does on a real terminal (keys, ^C, a resize reaching the
 * program) is the VM tier's (test/vm/shell.test.ts).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import { EventEmitter } from "node:events"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Readable } from "node:stream"
import { encodeWindowSizeMessage, type WindowSize } from "../../../src/protocol/control.ts"
import type { ExecSpec } from "../../../src/protocol/execSpec.ts"
import * as HostTerminal from "../../../src/runner/cli/hostTerminal.ts"
import { stdinPath } from "../../../src/runner/exec/ExecPlan.ts"
import type * as Qemu from "../../../src/runner/machine/Qemu.ts"
import { builtinModuleTree, cacheSharingImages, fakeKernel, pipedHost, runCli } from "./cliInProcess.ts"
import * as FakeQemu from "./fakeQemu.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-shell-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const kernel = fakeKernel(work)
const modules = builtinModuleTree(work)
const sharedCache = path.join(work, "cache")
const sh = fs.realpathSync("/bin/sh")

/** A terminal of the test's own: what raw mode it was put in, its size, keys it gives once read. */
const fakeTerminal = (options: { readonly size: () => [number, number]; readonly keys?: string }) => {
  const rawModes: Array<boolean> = []
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    isRaw: false,
    paused: true,
    setRawMode(mode: boolean) {
      rawModes.push(mode)
      stdin.isRaw = mode
    },
    resume() {
      stdin.paused = false
      // The keys the user types once the session reads them.
      if (options.keys !== undefined) setImmediate(() => stdin.emit("data", Buffer.from(options.keys!)))
    },
    pause() {
      stdin.paused = true
    },
    [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true as const, value: undefined }) })
  })
  const events = new EventEmitter()
  const host: HostTerminal.Streams = {
    stdin,
    stdout: { isTTY: true, getWindowSize: options.size },
    stderr: {},
    events
  }
  return { host, stdin, events, rawModes }
}

let runs = 0

/** Runs `effect-sysinit shell --no-kvm --kernel K --kernel-modules M` in a directory of its own with a fake QEMU. */
const runShell = async (scenario: Omit<FakeQemu.Scenario, "record">, host: HostTerminal.Streams) => {
  const dir = path.join(work, `run${++runs}`)
  const cwd = path.join(dir, "project")
  fs.mkdirSync(cwd, { recursive: true })
  const fake = FakeQemu.make(dir, scenario)
  const run = await runCli(["shell", "--no-kvm", "--kernel", kernel, "--kernel-modules", modules], {
    cwd,
    host,
    env: {
      PATH: `${dir}:/usr/bin:/bin`,
      SHELL: "/bin/sh",
      SYSINIT_CACHE_DIR: cacheSharingImages(sharedCache, dir),
      EFFECT_SYSINIT_ARGS: undefined
    }
  })
  const [spec] = fake.events().flatMap((event) =>
    event.event === "run" && !event.ignored ? [event.message.run as ExecSpec] : []
  )
  return { run, spec: spec!, cwd: fs.realpathSync(cwd) }
}

describe("effect-sysinit shell with a fake QEMU", () => {
  it(
    "with a pipe on stdin, runs $SHELL as root in the working directory, shared at its own path, reading the pipe",
    async () => {
      const { cwd, run, spec } = await runShell(
        { consoles: ["VIRTRUN_EXIT_CODE: 3\n", "hi\n"] },
        pipedHost("echo hi\nexit 3\n")
      )
      assert.strictEqual(run.status, 3, run.stderr)
      assert.strictEqual(run.stdout, "hi\n")
      assert.strictEqual(spec.command, sh)
      assert.deepStrictEqual(spec.args, [])
      assert.strictEqual(spec.cwd, cwd)
      assert.deepInclude(spec.shares, { tag: "share0", guest: cwd, readOnly: false })
      assert.isDefined(spec.hostRoot, "the host's userland")
      assert.isUndefined(spec.terminal)
      assert.strictEqual(spec.stdin, stdinPath)
      const stdin = spec.inlineFiles?.find((file) => file.path === stdinPath)
      assert.strictEqual(Buffer.from(stdin!.data, "base64").toString(), "echo hi\nexit 3\n")
    },
    120_000
  )

  it("with a terminal on stdin, runs the shell on a terminal of the guest, in raw mode until it ends", async () => {
    const terminal = fakeTerminal({ size: () => [100, 30], keys: "ls\r" })
    const { run, spec } = await runShell(
      { terminal: { console: 3, reply: "guest saw: " }, consoles: ["VIRTRUN_EXIT_CODE: 0\n"] },
      terminal.host
    )
    assert.strictEqual(run.status, 0, run.stderr)
    assert.deepStrictEqual(spec.terminal, { device: "/dev/virtrun3", windowSize: { rows: 30, columns: 100 } })
    assert.isUndefined(spec.stdin, "nothing is read from a terminal before the boot")
    assert.strictEqual(run.stdout, "guest saw: ls\r", "a key went to the guest's terminal, its answer to stdout")
    assert.deepStrictEqual(terminal.rawModes, [true, false], "raw mode while the shell ran, then as it was")
    assert.strictEqual(terminal.events.listenerCount("exit"), 0)
    assert.strictEqual(terminal.stdin.listenerCount("data"), 0)
  }, 120_000)
})

/** A started QEMU as the session sees it: what it was sent on the control console and the terminal. */
const fakeVm = () => {
  const control: Array<Buffer> = []
  const keys: Array<string> = []
  const vm: Qemu.Vm = {
    qmp: undefined,
    sendControl: (bytes) => Effect.sync(() => void control.push(Buffer.from(bytes))),
    sendTerminal: (bytes) => Effect.sync(() => void keys.push(Buffer.from(bytes).toString())),
    kill: Effect.void
  }
  return { vm, control, keys }
}

const until = (done: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() => done() ? Effect.void : Effect.andThen(Effect.sleep("1 millis"), until(done)))

const sizeMessage = (size: WindowSize) => encodeWindowSizeMessage(size)

describe("the host terminal", () => {
  const sizes: ReadonlyArray<
    readonly [string, HostTerminal.Streams["stdout"], HostTerminal.Streams["stderr"], WindowSize]
  > = [
    ["stdout's when it is a terminal", { isTTY: true, getWindowSize: () => [120, 50] }, {
      isTTY: true,
      getWindowSize: () => [1, 1]
    }, { rows: 50, columns: 120 }],
    ["stderr's when only it is a terminal", {}, { isTTY: true, getWindowSize: () => [90, 20] }, {
      rows: 20,
      columns: 90
    }],
    ["80 by 24 when neither is", {}, {}, HostTerminal.defaultWindowSize]
  ]
  for (const [name, stdout, stderr, expected] of sizes) {
    it(`has the size of ${name}`, () => {
      const host = { ...pipedHost(), stdout, stderr }
      assert.deepStrictEqual(HostTerminal.windowSize(host), expected)
    })
  }

  it.effect("a pipe on stdin is read to its end; one that fails gives nothing", () =>
    Effect.gen(function*() {
      assert.isFalse(HostTerminal.stdinIsTerminal(pipedHost()))
      const read = yield* HostTerminal.readStdin(pipedHost("echo hi\n"))
      assert.strictEqual(Buffer.from(read).toString(), "echo hi\n")
      const failing = Readable.from((async function*() {
        yield Buffer.from("lost")
        throw new Error("EIO")
      })()) as unknown as HostTerminal.Input
      assert.strictEqual((yield* HostTerminal.readStdin({ ...pipedHost(), stdin: failing })).length, 0)
    }))

  it.live("a session: raw mode, keys to the guest, the size when it changes, all undone when it ends", () =>
    Effect.gen(function*() {
      let size: [number, number] = [100, 30]
      const terminal = fakeTerminal({ size: () => size })
      const { control, keys, vm } = fakeVm()
      // The run was made at 80 by 24: the terminal changed while the machine started.
      const session = yield* Effect.forkChild(HostTerminal.session({ rows: 24, columns: 80 }, terminal.host)(vm))
      yield* until(() => terminal.stdin.listenerCount("data") === 1 && terminal.events.listenerCount("SIGWINCH") === 1)
      assert.deepStrictEqual(terminal.rawModes, [true])
      assert.isFalse(terminal.stdin.paused, "the keys are read")
      assert.deepStrictEqual(control, [sizeMessage({ rows: 30, columns: 100 })])

      terminal.stdin.emit("data", Buffer.from("echo a\r"))
      yield* until(() => keys.length === 1)
      assert.deepStrictEqual(keys, ["echo a\r"])

      terminal.events.emit("SIGWINCH")
      size = [60, 20]
      terminal.events.emit("SIGWINCH")
      yield* until(() => control.length === 2)
      assert.deepStrictEqual(control.slice(1), [sizeMessage({ rows: 20, columns: 60 })], "only a size that changed")

      yield* Fiber.interrupt(session)
      assert.deepStrictEqual(terminal.rawModes, [true, false])
      assert.isTrue(terminal.stdin.paused)
      for (const event of ["exit", "SIGWINCH"] as const) assert.strictEqual(terminal.events.listenerCount(event), 0)
      assert.strictEqual(terminal.stdin.listenerCount("data"), 0)
    }))

  it.live("gives the terminal back as it was when the process ends first", () =>
    Effect.gen(function*() {
      const terminal = fakeTerminal({ size: () => [80, 24] })
      const session = yield* Effect.forkChild(
        HostTerminal.session({ rows: 24, columns: 80 }, terminal.host)(fakeVm().vm)
      )
      yield* until(() => terminal.rawModes.length === 1)
      terminal.events.emit("exit")
      assert.deepStrictEqual(terminal.rawModes, [true, false])
      yield* Fiber.interrupt(session)
      assert.deepStrictEqual(terminal.rawModes, [true, false], "restored once")
    }))

  it.live("ends quietly when the terminal went away and its mode cannot be restored", () =>
    Effect.gen(function*() {
      const terminal = fakeTerminal({ size: () => [80, 24] })
      const session = yield* Effect.forkChild(
        HostTerminal.session({ rows: 24, columns: 80 }, terminal.host)(fakeVm().vm)
      )
      yield* until(() => terminal.rawModes.length === 1)
      terminal.stdin.setRawMode = () => {
        throw Object.assign(new Error("setRawMode EIO"), { code: "EIO" })
      }
      yield* Fiber.interrupt(session)
      const exit = yield* Fiber.await(session)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause), "interrupted, nothing thrown")
      assert.strictEqual(terminal.events.listenerCount("exit"), 0)
    }))
})
