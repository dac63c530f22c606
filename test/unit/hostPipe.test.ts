import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as HostPipe from "../../src/HostPipe.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import * as Mount from "../../src/Mount.ts"
import { NodeProcess } from "../../src/NodeProcess.ts"
import { parseSerialDriver } from "../../src/protocol/consoles.ts"
import * as RunState from "../../src/State.ts"
import { Syscalls } from "../../src/Syscalls.ts"
import * as Sysinit from "../../src/Sysinit.ts"
import { captureLogs, syscallError, withKernel } from "./helpers.ts"
import { module } from "./moduleFiles.ts"

const withState = Effect.provideServiceEffect(RunState.State, RunState.make)
const mounted = Mount.mountAll(Mount.essentialMountPoints())

describe("parseSerialDriver (the protocol module)", () => {
  it("lists the ports with a UART, leaving out unknown ones and other lines", () => {
    const table = [
      "serinfo:1.0 driver revision:",
      "0: uart:16550A port:000003F8 irq:4 tx:1024 rx:0 RTS|CTS|DTR|DSR|CD",
      "1: uart:16550A port:000002F8 irq:3 tx:0 rx:0 CTS|DSR|CD",
      "2: uart:unknown port:000003E8 irq:4",
      "3: uart:16550A port:000002E8 irq:3 tx:0 rx:0",
      ""
    ].join("\n")
    assert.deepStrictEqual(parseSerialDriver(table), [0, 1, 3])
  })
})

describe("HostPipe.setupHostPipes", () => {
  it.effect("serial transport is told by a stat of the virtio_console driver, without a glob", () =>
    Effect.gen(function*() {
      yield* mounted
      assert.strictEqual(yield* HostPipe.detectTransport, "serial")
      const { calls } = yield* MemoryKernel
      assert.isFalse(calls.some((call) => call.call === "glob"))
      assert.isTrue(calls.some((call) => call.call === "fileType"))
    }).pipe(withKernel({ consoles: { transport: "serial", ports: [0, 1] } })))

  it.effect("serial transport: ports 1… from the driver table, raw, linked as /dev/virtrun<N>", () =>
    Effect.gen(function*() {
      yield* mounted
      const pipes = yield* HostPipe.setupHostPipes.pipe(withState)
      assert.deepStrictEqual(pipes.map((p) => [p.port, p.device, p.link]), [
        [1, "/dev/ttyS1", "/dev/virtrun1"],
        [2, "/dev/ttyS2", "/dev/virtrun2"]
      ])
      const { state } = yield* MemoryKernel
      assert.deepStrictEqual(state.tree.get("/dev/virtrun2"), { type: "symlink", target: "/dev/ttyS2" })
      for (const pipe of pipes) assert.isTrue(state.consoles.get(pipe.fd)?.raw)
      assert.isFalse([...state.consoles.values()].some((c) => c.device === "/dev/ttyS0"))
    }).pipe(withKernel({ consoles: { transport: "serial", ports: [0, 1, 2] } })))

  it.effect("loads the modules the runner put in /lib/modules/transport first, in dependency order", () =>
    Effect.gen(function*() {
      yield* mounted
      const pipes = yield* HostPipe.setupHostPipes.pipe(withState)
      assert.deepStrictEqual(pipes.map((p) => p.device), ["/dev/hvc1"])
      const { state } = yield* MemoryKernel
      assert.deepStrictEqual(state.modules.map((loaded) => loaded.name), ["virtio_mmio", "virtio_console"])
    }).pipe(withKernel({
      consoles: { transport: "virtio", ports: [0, 1] },
      files: {
        "/lib/modules/transport/a_virtio_console.ko": module("virtio_console", ["virtio_mmio"]),
        "/lib/modules/transport/b_virtio_mmio.ko": module("virtio_mmio")
      }
    })))

  it.effect("without /lib/modules/transport, loads nothing and globs nothing for it", () =>
    Effect.gen(function*() {
      yield* mounted
      yield* HostPipe.setupHostPipes.pipe(withState)
      const { calls, state } = yield* MemoryKernel
      assert.lengthOf(state.modules, 0)
      assert.isFalse(calls.some((call) => call.call === "glob"))
    }).pipe(withKernel({ consoles: { transport: "serial", ports: [0, 1] } })))

  it.effect("virtio transport: only connected hvc ports, none of the serial ones", () =>
    Effect.gen(function*() {
      yield* mounted
      const pipes = yield* HostPipe.setupHostPipes.pipe(withState)
      assert.deepStrictEqual(pipes.map((p) => p.device), ["/dev/hvc1", "/dev/hvc3"])
      assert.strictEqual(yield* HostPipe.detectTransport, "virtio")
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1, 3] } })))

  it.effect("drains and closes every pipe when the scope closes, and sets up once per run", () =>
    Effect.gen(function*() {
      yield* mounted
      const scope = yield* Scope.make()
      const state = yield* RunState.make
      const setup = HostPipe.setupHostPipes.pipe(Effect.provideService(RunState.State, state), Scope.provide(scope))
      const first = yield* setup
      const second = yield* setup
      assert.strictEqual(first, second)
      const kernel = yield* MemoryKernel
      const syscalls = yield* Syscalls
      for (const pipe of first) yield* syscalls.write(pipe.fd, new Uint8Array([1, 2, 3]))
      assert.isTrue([...kernel.state.consoles.values()].every((c) => c.open && !c.drained))
      yield* Scope.close(scope, Exit.void)
      assert.isTrue([...kernel.state.consoles.values()].every((c) => !c.open && c.drained))
      assert.strictEqual(kernel.calls.filter((c) => c.call === "openConsole" && c.path === "/dev/ttyS1").length, 1)
    }).pipe(withKernel()))

  it.effect("once they are set up, a later call looks for nothing again: no kernel call at all", () =>
    Effect.gen(function*() {
      yield* mounted
      const state = yield* RunState.make
      const setup = HostPipe.setupHostPipes.pipe(Effect.provideService(RunState.State, state), Effect.scoped)
      const first = yield* setup
      const kernel = yield* MemoryKernel
      const before = kernel.calls.length
      assert.strictEqual(yield* setup, first)
      assert.deepStrictEqual(kernel.calls.slice(before), [])
    }).pipe(withKernel({
      consoles: { transport: "virtio", ports: [0, 1, 2] },
      files: { "/lib/modules/transport/virtio_console.ko": module("virtio_console") }
    })))

  const drainFailures: ReadonlyArray<readonly [string, "EIO" | "EBADF", ReadonlyArray<string>]> = [
    ["a pipe hung up (a shell's terminal whose shell ended) drains with EIO, which is no failure", "EIO", []],
    ["any other failure to drain a pipe is logged", "EBADF", ["draining /dev/ttyS1 failed"]]
  ]
  for (const [name, errno, expected] of drainFailures) {
    it.effect(name, () =>
      Effect.gen(function*() {
        yield* mounted
        ;(yield* MemoryKernel).fail({ call: "drain", errno })
        const [, logged] = yield* captureLogs(HostPipe.setupHostPipes.pipe(withState, Effect.scoped))
        assert.deepStrictEqual(logged, expected)
      }).pipe(withKernel()))
  }

  it.effect("no /dev mounted: opening the first port fails with ENOENT", () =>
    Effect.gen(function*() {
      yield* Mount.mountAll({
        "/proc": Mount.essentialMountPoints()["/proc"]!,
        "/sys": Mount.essentialMountPoints()["/sys"]!
      })
      const error = yield* syscallError(HostPipe.setupHostPipes.pipe(withState, Effect.scoped))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["open", "ENOENT", "/dev/ttyS1"])
    }).pipe(withKernel()))

  it.effect("no /proc mounted: reading the serial table fails with ENOENT", () =>
    Effect.gen(function*() {
      yield* Mount.mountAll({
        "/dev": Mount.essentialMountPoints()["/dev"]!,
        "/sys": Mount.essentialMountPoints()["/sys"]!
      })
      const error = yield* syscallError(HostPipe.setupHostPipes.pipe(withState, Effect.scoped))
      assert.deepStrictEqual([error.errno, error.path], ["ENOENT", "/proc/tty/driver/serial"])
    }).pipe(withKernel()))

  it.effect("an error other than ENOENT or ENODEV while probing is reported", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "openConsole", errno: "EACCES", path: "/dev/hvc0" })
      const error = yield* syscallError(HostPipe.setupHostPipes.pipe(withState, Effect.scoped))
      assert.deepStrictEqual([error.errno, error.path], ["EACCES", "/dev/hvc0"])
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1] } })))
})

describe("HostPipe waits for a virtio_console that is still adding its ports", () => {
  it.effect("a console that is not there yet is waited for, polling every few milliseconds", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "openConsole", errno: "ENODEV", path: "/dev/hvc1", times: 3 })
      const fiber = yield* Effect.forkChild(HostPipe.connectedConsoles)
      yield* TestClock.adjust("1 second")
      const consoles = yield* Fiber.join(fiber)
      assert.deepStrictEqual(consoles.map((c) => c.device), ["/dev/hvc1", "/dev/hvc2"])
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1, 2] } })))

  it.effect("a port whose tty exists before virtio_console lists it (EINVAL) is waited for, hvc0 too", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "openConsole", errno: "EINVAL", path: "/dev/hvc0", times: 2 })
      kernel.fail({ call: "openConsole", errno: "EINVAL", path: "/dev/hvc1", times: 3 })
      const fiber = yield* Effect.forkChild(HostPipe.connectedConsoles)
      yield* TestClock.adjust("1 second")
      const consoles = yield* Fiber.join(fiber)
      assert.deepStrictEqual(consoles.map((c) => c.device), ["/dev/hvc1", "/dev/hvc2"])
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1, 2] } })))

  it.effect("the transport is virtio while the bound driver has added no console yet", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "openConsole", errno: "ENOENT", path: "/dev/hvc0", times: 1 })
      assert.strictEqual(yield* HostPipe.detectTransport, "virtio")
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1] } })))

  it.effect("a port that never becomes a console is given up after virtioConsoleWait", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "openConsole", errno: "ENODEV", path: "/dev/hvc2" })
      const fiber = yield* Effect.forkChild(HostPipe.connectedConsoles)
      yield* TestClock.adjust(HostPipe.virtioConsoleWait)
      const consoles = yield* Fiber.join(fiber)
      assert.deepStrictEqual(consoles.map((c) => c.device), ["/dev/hvc1"])
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1, 2] } })))
})

describe("HostPipe.reopenStdioOnConsole", () => {
  it.effect("an init that started on /dev/null gets /dev/console as stdio, and its stderr reaches the console", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      const nodeProcess = yield* NodeProcess
      yield* nodeProcess.writeStderr("lost\n")
      assert.isTrue(yield* HostPipe.reopenStdioOnConsole)
      yield* nodeProcess.writeStderr("seen\n")
      assert.strictEqual(kernel.state.stdio, "/dev/console")
      assert.strictEqual(kernel.state.stderr, "seen\n")
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1] }, stdio: "/dev/null" })))

  it.effect("stdio that is already a terminal is left alone", () =>
    Effect.gen(function*() {
      yield* mounted
      assert.isFalse(yield* HostPipe.reopenStdioOnConsole)
      const kernel = yield* MemoryKernel
      assert.isFalse(kernel.calls.some((c) => c.call === "reopenStdio"))
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1] } })))

  it.effect("waits while /dev/console has no console behind it yet (ENODEV)", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "reopenStdio", errno: "ENODEV", path: "/dev/console", times: 5 })
      const fiber = yield* Effect.forkChild(HostPipe.reopenStdioOnConsole)
      yield* TestClock.adjust("1 second")
      assert.isTrue(yield* Fiber.join(fiber))
      assert.strictEqual(kernel.state.stdio, "/dev/console")
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1] }, stdio: "/dev/null" })))

  it.effect("waits while the console behind /dev/console is being added (EINVAL)", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "reopenStdio", errno: "EINVAL", path: "/dev/console", times: 2 })
      const fiber = yield* Effect.forkChild(HostPipe.reopenStdioOnConsole)
      yield* TestClock.adjust("1 second")
      assert.isTrue(yield* Fiber.join(fiber))
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1] }, stdio: "/dev/null" })))

  it.effect("a kernel that never gets a console fails with ENODEV after virtioConsoleWait", () =>
    Effect.gen(function*() {
      yield* mounted
      const fiber = yield* Effect.forkChild(syscallError(HostPipe.reopenStdioOnConsole))
      yield* TestClock.adjust(HostPipe.virtioConsoleWait)
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["open", "ENODEV", "/dev/console"])
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [1] }, stdio: "/dev/null" })))

  it.effect("setupHostPipes over virtio reopens stdio on the console", () =>
    Effect.gen(function*() {
      yield* mounted
      yield* HostPipe.setupHostPipes.pipe(withState, Effect.scoped)
      assert.strictEqual((yield* MemoryKernel).state.stdio, "/dev/console")
    }).pipe(withKernel({ consoles: { transport: "virtio", ports: [0, 1] }, stdio: "/dev/null" })))

  it.effect("setupHostPipes over serial leaves stdio as it is", () =>
    Effect.gen(function*() {
      yield* mounted
      yield* HostPipe.setupHostPipes.pipe(withState, Effect.scoped)
      const kernel = yield* MemoryKernel
      assert.strictEqual(kernel.state.stdio, "/dev/null")
      assert.isFalse(kernel.calls.some((c) => c.call === "isTerminal" || c.call === "reopenStdio"))
    }).pipe(withKernel({ consoles: { transport: "serial", ports: [0, 1] }, stdio: "/dev/null" })))
})

describe("HostPipe.withStdoutHostPipe", () => {
  it.effect("redirects stdout to console 1 for the scope, then drains it and restores stdout", () =>
    Effect.gen(function*() {
      yield* mounted
      const kernel = yield* MemoryKernel
      const scope = yield* Scope.make()
      yield* HostPipe.withStdoutHostPipe.pipe(withState, Scope.provide(scope))
      const pipe1 = [...kernel.state.consoles.entries()].find(([, c]) => c.device === "/dev/ttyS1")!
      assert.strictEqual(kernel.state.stdoutFd, pipe1[0])
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(kernel.state.stdoutFd, undefined)
      const order = kernel.calls.map((c) => c.call).filter((c) => c === "redirectStdout" || c === "close")
      assert.deepStrictEqual(order, ["redirectStdout", "redirectStdout", "close"])
    }).pipe(withKernel()))

  it.effect("fails with HostPipeMissing when the host connected no console 1", () =>
    Effect.gen(function*() {
      yield* mounted
      const error = yield* Effect.flip(HostPipe.withStdoutHostPipe.pipe(withState, Effect.scoped))
      assert.strictEqual(error._tag, "HostPipeMissing")
      assert.strictEqual(error.message.includes("/dev/virtrun1"), true)
      assert.strictEqual((yield* MemoryKernel).state.stdoutFd, undefined)
    }).pipe(withKernel({ consoles: { transport: "serial", ports: [0] } })))

  it.effect("a second call in the same run redirects nothing more and opens nothing more", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      yield* Sysinit.runSteps(HostPipe.withStdoutHostPipe, HostPipe.withStdoutHostPipe)
      // One redirect while the run lasts, one restore when its scope closes.
      assert.strictEqual(kernel.calls.filter((c) => c.call === "redirectStdout").length, 2)
      assert.strictEqual(kernel.calls.filter((c) => c.call === "openConsole" && c.path === "/dev/ttyS1").length, 1)
      assert.strictEqual(kernel.state.stdoutFd, undefined)
    }).pipe(withKernel()))
})

describe("HostPipe.withStdoutHostPipeWhenConnected, what Init.main does first", () => {
  it.effect.each(
    [
      { transport: "serial", device: "/dev/ttyS1" },
      { transport: "virtio", device: "/dev/hvc1" }
    ] as const
  )(
    "with a console 1 connected over $transport, stdout goes to $device for the run",
    ({ device, transport }) =>
      Effect.gen(function*() {
        const kernel = yield* MemoryKernel
        const seen: Array<number | undefined> = []
        const during = Effect.sync(() => seen.push(kernel.state.stdoutFd))
        yield* Sysinit.runSteps(HostPipe.withStdoutHostPipeWhenConnected, during)
        assert.strictEqual(seen.length, 1)
        const pipe = kernel.state.consoles.get(seen[0]!)
        assert.deepStrictEqual([pipe?.device, pipe?.raw], [device, true])
        assert.strictEqual(kernel.state.stdoutFd, undefined, "restored when the run ends")
        assert.strictEqual(kernel.state.tree.get("/dev/virtrun1")?.type, "symlink")
      }).pipe(withKernel({ consoles: { transport, ports: [0, 1] } }))
  )

  it.effect("then a step's own withStdoutHostPipe (as inits written before the default have) changes nothing", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      yield* Sysinit.runSteps(HostPipe.withStdoutHostPipeWhenConnected, HostPipe.withStdoutHostPipe)
      assert.strictEqual(kernel.calls.filter((c) => c.call === "redirectStdout").length, 2)
      assert.strictEqual(kernel.calls.filter((c) => c.call === "openConsole" && c.path === "/dev/ttyS1").length, 1)
    }).pipe(withKernel({ consoles: { transport: "serial", ports: [0, 1] } })))

  it.effect.each(
    [
      { transport: "serial", ports: [0, 2], device: "/dev/ttyS2" },
      { transport: "virtio", ports: [0, 2], device: "/dev/hvc2" }
    ] as const
  )(
    "without a console 1 ($transport), it does nothing, and leaves the pipes to a later step",
    ({ device, ports, transport }) =>
      Effect.gen(function*() {
        const kernel = yield* MemoryKernel
        const seen: Array<ReadonlyArray<string>> = []
        // Host pipes are the consoles set raw; over virtio, probing opens (and closes) others.
        const opened = Effect.sync(() =>
          seen.push([...kernel.state.consoles.values()].filter((c) => c.raw).map((c) => c.device))
        )
        yield* Sysinit.runSteps(HostPipe.withStdoutHostPipeWhenConnected, opened, HostPipe.setupHostPipes, opened)
        assert.deepStrictEqual(seen, [[], [device]])
        assert.isFalse(kernel.calls.some((c) => c.call === "redirectStdout"))
        assert.strictEqual(kernel.state.stdoutFd, undefined)
      }).pipe(withKernel({ consoles: { transport, ports } }))
  )

  it.effect("without a console 1, a later withStdoutHostPipe still fails as it would alone: HostPipeMissing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Sysinit.runSteps(HostPipe.withStdoutHostPipeWhenConnected, HostPipe.withStdoutHostPipe)
      )
      assert.strictEqual(error._tag, "HostPipeMissing")
    }).pipe(withKernel({ consoles: { transport: "serial", ports: [0] } })))
})
