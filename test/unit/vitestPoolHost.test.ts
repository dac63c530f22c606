// The vitest pool's host side (src/vitest.ts) in-process, against a fake
// runner: `spawn` gives a child whose stdout and stderr the test writes, and
// whose guest end connects to the pool's input socket as QEMU would. What
// the pool promises vitest (start answered at once, requests held until the
// guest's worker started, one error for a VM that never came up, the
// timeout, a VM per worker) is checked here; the real VMs in test/vm.
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import type { SpawnOptions } from "node:child_process"
import { EventEmitter } from "node:events"
import { existsSync, mkdtempSync, realpathSync, rmSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, sep } from "node:path"
import { PassThrough } from "node:stream"
import { vi } from "vitest"
import type { PoolOptions, PoolWorker, WorkerRequest } from "vitest/node"
import { decodePayload, encodeMessage, FrameDecoder, hello } from "../../src/protocol/vitestFraming.ts"
import { bin, guestModule, packageRoot } from "../../src/runner/packageFiles.ts"

/** A runner as the pool sees it: its streams, its exit, and the guest's end of the input socket. */
class FakeRunner extends EventEmitter {
  readonly stdout = new PassThrough()
  readonly stderr = new PassThrough()
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  readonly signals: Array<string> = []
  /** What the host wrote to the guest, decoded. */
  readonly received: Array<{ readonly type?: string }> = []
  channel: Socket | undefined
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly options: SpawnOptions

  constructor(command: string, args: ReadonlyArray<string>, options: SpawnOptions) {
    super()
    this.command = command
    this.args = args
    this.options = options
  }

  get socket(): string {
    return this.args[this.args.indexOf("--input") + 1]!
  }

  /** The guest's end of the input console connects, as QEMU does once it runs. */
  connectGuest(): Promise<void> {
    const decoder = new FrameDecoder(
      (payload) => void this.received.push(decodePayload(payload) as { readonly type?: string }),
      () => {}
    )
    return new Promise((resolve) => {
      this.channel = connect(this.socket, resolve)
      this.channel.on("data", (chunk: Buffer) => decoder.push(chunk))
      this.channel.on("error", () => {})
    })
  }

  /** The guest's worker writes a message on console 1 (the runner's stdout). */
  say(message: unknown): void {
    this.stdout.write(encodeMessage(message))
  }

  /** The runner ends. */
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.exitCode = code
    this.signalCode = signal
    this.channel?.destroy()
    this.stdout.end()
    this.emit("exit", code, signal)
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    this.signals.push(signal)
    // The runner kills QEMU and removes its files on SIGTERM, then ends by it.
    setImmediate(() => this.exit(null, signal))
    return true
  }
}

const spawned = vi.hoisted(() => [] as Array<unknown>)

vi.mock("node:child_process", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:child_process")>()
  return {
    ...actual,
    spawn: (command: string, args: ReadonlyArray<string>, options: SpawnOptions) => {
      const runner = new FakeRunner(command, args, options)
      spawned.push(runner)
      return runner
    }
  }
})

const { kernelProjects, vmPool } = await import("../../src/vitest.ts")

const lastRunner = (): FakeRunner => spawned.at(-1) as FakeRunner

/** What vitest's logger streams got. */
class Sink extends PassThrough {
  text = ""
  override write(chunk: unknown, ...rest: Array<never>): boolean {
    this.text += Buffer.isBuffer(chunk) ? chunk.toString("latin1") : String(chunk)
    return super.write(chunk as Buffer, ...rest)
  }
}

const root = join(import.meta.dirname, "../fixtures/vitest-pool")

const makeWorker = (vm: Parameters<typeof vmPool>[0] = {}, env: Record<string, string | undefined> = {}) => {
  const stdout = new Sink()
  const stderr = new Sink()
  stdout.resume()
  stderr.resume()
  const options = {
    distPath: "",
    method: "run",
    environment: { name: "node", options: null },
    execArgv: ["--conditions=development"],
    env,
    project: { config: { root }, vitest: { logger: { outputStream: stdout, errorStream: stderr } } }
  } as unknown as PoolOptions
  const worker = vmPool(vm).createPoolWorker(options) as PoolWorker & { readonly abandon: () => void }
  const messages: Array<{ readonly type?: string } & Record<string, unknown>> = []
  const errors: Array<Error> = []
  const exits: Array<readonly [unknown, unknown]> = []
  worker.on(
    "message",
    (data: unknown) => messages.push(worker.deserialize(data) as { readonly type?: string } & Record<string, unknown>)
  )
  worker.on("error", (error: Error) => errors.push(error))
  worker.on("exit", (code: unknown, signal: unknown) => exits.push([code, signal]))
  return { worker, messages, errors, exits, stdout, stderr }
}

const request = (type: string, extra: Record<string, unknown> = {}) =>
  ({ __vitest_worker_request__: true, type, ...extra }) as unknown as WorkerRequest
const runFiles = (...files: ReadonlyArray<string>) =>
  request("run", { context: { files: files.map((filepath) => ({ filepath })) } })
const response = (type: string, extra: Record<string, unknown> = {}) => ({
  __vitest_worker_response__: true,
  type,
  ...extra
})

/** Waits for a condition that the event loop brings about (a socket write, a stream's data). */
const until = async (condition: () => boolean, what: string): Promise<void> => {
  // Turns of the event loop, not timers: the timeout's tests fake setTimeout.
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}
const turns = (n = 5) =>
  Array.from({ length: n }).reduce<Promise<void>>(
    (previous) => previous.then(() => new Promise((resolve) => setImmediate(resolve))),
    Promise.resolve()
  )

/** A worker whose VM is up: started, connected, greeted, and the guest's worker started. */
const readyWorker = async (vm: Parameters<typeof vmPool>[0] = {}) => {
  const made = makeWorker(vm)
  made.worker.send(request("start"))
  await made.worker.start()
  const runner = lastRunner()
  await runner.connectGuest()
  runner.say(hello)
  await until(() => runner.received.length === 1, "the guest's worker gets start")
  runner.say(response("started"))
  await turns()
  return { ...made, runner }
}

afterEach(async () => {
  // No runner left behind: each test ends the ones it started.
  for (const runner of spawned.splice(0) as Array<FakeRunner>) {
    if (runner.exitCode === null && runner.signalCode === null) runner.exit(0)
  }
  await turns()
})

describe("the pool's worker, before the guest's worker is up", () => {
  it("answers vitest's start at once, before a VM runs, and passes it on when the guest's worker says hello", async () => {
    const { worker, messages } = makeWorker()
    worker.send(request("start"))
    await Promise.resolve()
    assert.deepStrictEqual(messages, [response("started")], "answered in a microtask, no VM yet")
    assert.strictEqual(spawned.length, 0)
    await worker.start()
    const runner = lastRunner()
    await runner.connectGuest()
    await turns()
    assert.deepStrictEqual(runner.received, [], "nothing written before the guest's worker says hello")
    runner.say(hello)
    await until(() => runner.received.length === 1, "start is delivered")
    assert.strictEqual(runner.received[0]?.type, "start")
    assert.strictEqual(messages.length, 1, "the guest's hello is not vitest's business")
  })

  it("holds vitest's requests until the guest's worker has started, then delivers them in order", async () => {
    const { worker, messages } = makeWorker()
    worker.send(request("start"))
    worker.send(runFiles("/p/a.test.ts"))
    worker.send(request("custom"))
    await worker.start()
    const runner = lastRunner()
    await runner.connectGuest()
    runner.say(hello)
    await until(() => runner.received.length === 1, "start is delivered")
    await turns()
    assert.deepStrictEqual(runner.received.map((message) => message.type), ["start"], "the run waits")
    runner.say(response("started"))
    await until(() => runner.received.length === 3, "the waiting requests are delivered")
    assert.deepStrictEqual(runner.received.map((message) => message.type), ["start", "run", "custom"])
    assert.deepStrictEqual(
      messages.map((message) => message.type),
      ["started"],
      "the guest's own answer to start is not passed on: vitest had it at once"
    )
    worker.send(request("later"))
    await until(() => runner.received.length === 4, "a later request goes straight in")
    assert.strictEqual(runner.received[3]?.type, "later")
  })

  it("passes the guest's other messages to vitest as they come, and what is outside frames to its stdout", async () => {
    const { messages, runner, stdout, stderr } = await readyWorker()
    runner.stdout.write("a test wrote this to fd 1\n")
    runner.say(response("testfileFinished", { file: "a" }))
    runner.say({ event: "onTaskUpdate", args: [/rpc/g, undefined] })
    runner.stderr.write("effect-sysinit: the runner's own line\n")
    await until(() => messages.length === 3, "both messages are passed on")
    assert.deepStrictEqual(messages.slice(1), [
      response("testfileFinished", { file: "a" }),
      { event: "onTaskUpdate", args: [/rpc/g, undefined] }
    ])
    await until(() => stderr.text.includes("runner's own line"), "the runner's stderr reaches vitest's")
    assert.strictEqual(stdout.text, "a test wrote this to fd 1\n")
  })

  it("fails its files with one error when the guest's worker failed to start, passing nothing on", async () => {
    const { worker, messages, errors } = makeWorker()
    worker.send(request("start"))
    worker.send(runFiles("/p/a.test.ts"))
    await worker.start()
    const runner = lastRunner()
    await runner.connectGuest()
    runner.say(hello)
    runner.say(response("started", { error: { message: "Cannot find module 'vitest/worker'" } }))
    await until(() => errors.length > 0, "the error")
    await turns()
    assert.deepStrictEqual(errors.map((error) => error.message), [
      "effect-sysinit/vitest: vitest's worker in the VM failed to start: Cannot find module 'vitest/worker'"
    ])
    assert.deepStrictEqual(messages.map((message) => message.type), ["started"])
    assert.deepStrictEqual(runner.received.map((message) => message.type), ["start"], "the run was not sent")
  })

  it("turns a VM that ends before the guest's worker started into one error, not an exit, and removes its socket", async () => {
    const { worker, errors, exits, stderr } = makeWorker()
    worker.send(request("start"))
    worker.send(runFiles("/p/a.test.ts"))
    await worker.start()
    const runner = lastRunner()
    assert.isTrue(existsSync(runner.socket))
    runner.stderr.write("effect-sysinit: --memory: \"abc\" is not a number\n")
    await turns()
    runner.exit(120)
    await turns()
    assert.deepStrictEqual(errors.map((error) => error.message), [
      "effect-sysinit/vitest: the VM ended before vitest's worker started (runner exit code 120); see its output above"
    ])
    assert.deepStrictEqual(exits, [])
    assert.isFalse(existsSync(dirname(runner.socket)), "the socket's directory is removed")
    assert.include(stderr.text, "--memory")
    // vitest stops the worker next: nothing left to end.
    await worker.stop()
    assert.deepStrictEqual(runner.signals, [])
  })

  it("answers a stop that comes before the guest's worker is ready at once, and ends the VM: an exit, no error", async () => {
    const { worker, messages, errors, exits } = makeWorker()
    worker.send(request("start"))
    await worker.start()
    const runner = lastRunner()
    await runner.connectGuest()
    worker.send(request("stop"))
    await Promise.resolve()
    assert.deepStrictEqual(messages.map((message) => message.type), ["started", "stopped"])
    await worker.stop()
    assert.deepStrictEqual(runner.signals, ["SIGTERM"])
    assert.deepStrictEqual(exits, [[null, "SIGTERM"]])
    assert.deepStrictEqual(errors, [])
    assert.deepStrictEqual(runner.received, [], "the guest was never sent the stop")
    assert.isFalse(existsSync(dirname(runner.socket)))
  })

  it("reports a runner that cannot be spawned as an error", async () => {
    const { worker, errors } = makeWorker()
    await worker.start()
    const failure = Object.assign(new Error("spawn node ENOENT"), { code: "ENOENT" })
    lastRunner().emit("error", failure)
    assert.deepStrictEqual(errors, [failure])
  })
})

describe("the pool's worker, once the guest's worker is up", () => {
  it("passes stop on to the guest, and its VM's end after stop() is vitest's exit", async () => {
    const { worker, messages, errors, exits, runner } = await readyWorker()
    worker.send(request("stop"))
    await until(() => runner.received.length === 2, "stop is delivered")
    assert.strictEqual(runner.received[1]?.type, "stop")
    runner.say(response("stopped"))
    await until(() => messages.length === 2, "the guest's stopped is passed on")
    await worker.stop()
    assert.deepStrictEqual(runner.signals, ["SIGTERM"])
    assert.deepStrictEqual(exits, [[null, "SIGTERM"]])
    assert.deepStrictEqual(errors, [])
  })

  it("turns a VM that dies mid-file into vitest's exit with the runner's code, not an error", async () => {
    const { worker, errors, exits, runner } = await readyWorker()
    worker.send(runFiles("/p/dies.test.ts"))
    await until(() => runner.received.length === 2, "the run is delivered")
    runner.exit(121)
    await turns()
    assert.deepStrictEqual(exits, [[121, null]])
    assert.deepStrictEqual(errors, [])
    // What vitest sends to a dead VM is dropped; the exit already said what happened.
    worker.send(request("late"))
    await turns()
    assert.strictEqual(runner.received.length, 2)
  })
})

describe("the pool's timeout", () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }))
  afterEach(() => void vi.useRealTimers())

  it("stops the VM of a file that runs past it, and says so naming the file", async () => {
    const { worker, stderr, runner } = await readyWorker({ timeout: "40 seconds" })
    worker.send(runFiles("/p/hang.test.ts"))
    vi.advanceTimersByTime(39_999)
    assert.deepStrictEqual(runner.signals, [])
    vi.advanceTimersByTime(1)
    assert.deepStrictEqual(runner.signals, ["SIGTERM"])
    assert.include(
      stderr.text,
      "effect-sysinit/vitest: /p/hang.test.ts ran past the pool's timeout of 40000 ms; its VM was stopped"
    )
  })

  it("gives a run of several files (isolate: false) the timeout for each, and ends with vitest's one answer to it", async () => {
    const { worker, runner, stderr } = await readyWorker({ timeout: 1000 })
    worker.send(runFiles("/p/a.test.ts", "/p/b.test.ts"))
    vi.advanceTimersByTime(1999)
    assert.deepStrictEqual(runner.signals, [], "two files, two seconds")
    vi.advanceTimersByTime(1)
    assert.deepStrictEqual(runner.signals, ["SIGTERM"])
    assert.include(
      stderr.text,
      "effect-sysinit/vitest: the run of /p/a.test.ts, /p/b.test.ts ran past the pool's timeout of 1000 ms a file; its VM was stopped"
    )
  })

  it("stops counting when the guest's worker answers the run, and counts the next run afresh", async () => {
    const { worker, runner } = await readyWorker({ timeout: 1000 })
    worker.send(runFiles("/p/a.test.ts", "/p/b.test.ts"))
    vi.advanceTimersByTime(1500)
    // vitest's worker answers a run with one testfileFinished, however many files it had.
    runner.say(response("testfileFinished"))
    await until(() => runner.received.length === 2, "the run is delivered")
    await turns()
    vi.advanceTimersByTime(60_000)
    assert.deepStrictEqual(runner.signals, [], "no watchdog once the run is answered")
    worker.send(runFiles("/p/c.test.ts"))
    vi.advanceTimersByTime(1000)
    assert.deepStrictEqual(runner.signals, ["SIGTERM"])
  })

  it("is no limit when not set", async () => {
    const { worker, runner } = await readyWorker()
    worker.send(runFiles("/p/a.test.ts"))
    vi.advanceTimersByTime(24 * 3_600_000)
    assert.deepStrictEqual(runner.signals, [])
  })

  it("that it cannot read throws as the config is read, naming the forms it takes", () => {
    assert.throws(
      () => vmPool({ timeout: "soon" }),
      "effect-sysinit/vitest: timeout soon: expected a duration such as 90, 90s, 2m, 1500ms or 60 seconds"
    )
    assert.throws(() => kernelProjects(["6.1"], { name: "k" }, { timeout: "1 fortnight" }), /timeout 1 fortnight/)
  })
})

describe("the runner the pool's worker spawns", () => {
  it("is exec of vitest's worker on this node, the project and packages shared, the options as exec's flags", async () => {
    const { worker } = makeWorker({
      kernel: "6.12",
      memory: 512,
      smp: 2,
      modules: ["/m/dummy.ko"],
      shares: ["/data:/data:ro"],
      env: { FROM_OPTIONS: "1" },
      cold: true,
      execFlags: ["--verbose"],
      compileCache: false
    }, { VITEST_POOL_ID: "3", PATH: process.env["PATH"], UNSET: undefined })
    await worker.start()
    await worker.start()
    assert.strictEqual(spawned.length, 1, "a worker's VM is started once")
    const runner = lastRunner()
    assert.strictEqual(runner.command, process.execPath)
    assert.strictEqual(runner.args[0], bin)
    const args = runner.args.slice(1)
    assert.deepStrictEqual(args.slice(0, 6), ["exec", "--transport", "virtio", "--host-root", "--input", runner.socket])
    const after = (flag: string) => args.flatMap((arg, i) => (arg === flag ? [args[i + 1]!] : []))
    const shared = after("--share")
    assert.include(shared, "/data:/data:ro")
    const hostShares = shared.filter((share) => !share.includes(":"))
    // The fixture, vitest's node_modules and this package are all in this clone: one share of it.
    assert.include(hostShares, realpathSync(packageRoot).replace(/\/$/, ""))
    for (const share of hostShares) {
      assert.isFalse(hostShares.some((outer) => share.startsWith(outer + sep)), `${share} is inside another share`)
    }
    assert.deepStrictEqual(after("--kernel"), ["6.12"])
    assert.deepStrictEqual(after("--memory"), ["512"])
    assert.deepStrictEqual(after("--smp"), ["2"])
    assert.deepStrictEqual(after("--add-module"), ["/m/dummy.ko"])
    assert.deepStrictEqual(
      after("--env"),
      ["VITEST_POOL_ID=3", "FROM_OPTIONS=1"],
      "vitest's variables that differ from this process's, then the options'"
    )
    assert.include(args, "--cold")
    assert.include(args, "--verbose")
    assert.deepStrictEqual(args.slice(args.indexOf("--")), [
      "--",
      realpathSync(process.execPath),
      "--conditions=development",
      guestModule("vitestWorker")
    ])
    assert.strictEqual(runner.options.cwd, root)
    assert.strictEqual(runner.options.env?.["EFFECT_SYSINIT_ARGS"], "", "go test's flags do not reach it")
    await worker.stop()
  })

  it("by default restores, shares the cache directory's node-compile-cache/ and names it in NODE_COMPILE_CACHE", async () => {
    const cache = mkdtempSync(join(tmpdir(), "pool-compile-cache-"))
    vi.stubEnv("SYSINIT_CACHE_DIR", cache)
    try {
      const { worker } = makeWorker({ env: { FROM_OPTIONS: "1" } })
      await worker.start()
      const args = lastRunner().args
      const folder = join(cache, "node-compile-cache")
      assert.isTrue(existsSync(folder), "made before the VM starts")
      assert.include(args.flatMap((arg, i) => (arg === "--share" ? [args[i + 1]] : [])), folder)
      const env = args.flatMap((arg, i) => (arg === "--env" ? [args[i + 1]] : []))
      assert.include(env, `NODE_COMPILE_CACHE=${folder}`)
      assert.include(env, "FROM_OPTIONS=1")
      assert.notInclude(args, "--cold", "a VM is a restore unless cold")
      await worker.stop()
    } finally {
      rmSync(cache, { recursive: true, force: true })
    }
  })

  it("is shown on stderr with EFFECT_SYSINIT_VITEST_DEBUG", async () => {
    vi.stubEnv("EFFECT_SYSINIT_VITEST_DEBUG", "1")
    try {
      const { worker, stderr } = makeWorker()
      await worker.start()
      assert.match(stderr.text, /^effect-sysinit\/vitest: exec --transport virtio --host-root --input \S+input\.sock /)
      await worker.stop()
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it("is one per worker: vitest's workers (a file each, with isolate) each get a VM and a socket of their own", async () => {
    const first = makeWorker()
    const second = makeWorker()
    await first.worker.start()
    await second.worker.start()
    const [a, b] = spawned as Array<FakeRunner>
    assert.notStrictEqual(a!.socket, b!.socket)
    await first.worker.stop()
    assert.deepStrictEqual([a!.signals, b!.signals], [["SIGTERM"], []], "stopping one leaves the other")
    await second.worker.stop()
  })

  it("is told to stop, its socket removed, when vitest's process exits with its VM still running", async () => {
    const before = new Set(process.listeners("exit"))
    vi.resetModules()
    const fresh = await import("../../src/vitest.ts")
    const stdout = new Sink()
    const options = {
      execArgv: [],
      env: {},
      project: { config: { root }, vitest: { logger: { outputStream: stdout, errorStream: stdout } } }
    } as unknown as PoolOptions
    const running = fresh.vmPool().createPoolWorker(options)
    const stopped = fresh.vmPool().createPoolWorker(options)
    await running.start()
    await stopped.start()
    const [a, b] = spawned as Array<FakeRunner>
    await stopped.stop()
    const hooks = process.listeners("exit").filter((listener) => !before.has(listener))
    assert.strictEqual(hooks.length, 1, "one hook, however many workers")
    try {
      ;(hooks[0] as () => void)()
    } finally {
      process.off("exit", hooks[0]!)
    }
    assert.deepStrictEqual(
      [a!.signals, b!.signals],
      [["SIGTERM"], ["SIGTERM"]],
      "the stopped one is not signalled again"
    )
    assert.isFalse(existsSync(dirname(a!.socket)))
    await turns()
  })
})
