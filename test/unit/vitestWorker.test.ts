/**
 * The vitest pool's worker in the guest (src/guest/vitestWorker.ts), in this
 * process: its input console is a pseudo-terminal of the test's, vitest's
 * worker loop a stand-in that shows how it was wired. What it promises the
 * pool's host side: a hello once it listens, frames out on stdout, frames in
 * from its console in raw mode, nothing mangled. Its run in a VM is the VM
 * tier's (test/vm/vitestPool.test.ts).
 */
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ReadStream } from "node:tty"
import { vi } from "vitest"
import { loadLibc } from "../../src/kernels/libc.ts"
import { inputsVariable } from "../../src/protocol/consoles.ts"
import { decodePayload, encodeMessage, FrameDecoder, hello, isHello } from "../../src/protocol/vitestFraming.ts"

const wiring = vi.hoisted(() => ({
  init: [] as Array<{
    readonly post: (message: unknown) => void
    readonly on: (listener: (message: unknown) => void) => void
    readonly off: (listener: (message: unknown) => void) => void
    readonly runTests: (state: unknown, traces: unknown) => unknown
    readonly collectTests: (state: unknown, traces: unknown) => unknown
    readonly setup: unknown
    readonly teardown: () => void
  }>,
  runBaseTests: [] as Array<ReadonlyArray<unknown>>,
  streams: [] as Array<ReadStream>
}))

vi.mock("vitest/worker", () => ({
  init: (options: (typeof wiring.init)[number]) => void wiring.init.push(options),
  runBaseTests: (...args: ReadonlyArray<unknown>) => void wiring.runBaseTests.push(args),
  setupEnvironment: "vitest's setupEnvironment"
}))

vi.mock("node:tty", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:tty")>()
  class RecordedReadStream extends actual.ReadStream {
    constructor(fd: number) {
      super(fd)
      wiring.streams.push(this)
    }
  }
  return { ...actual, ReadStream: RecordedReadStream }
})

// Linux's pseudo-terminal ioctls, for the test's side of the console.
const TIOCGPTN = 0x80045430
const TIOCSPTLCK = 0x40045431

const libc = await Effect.runPromise(loadLibc)
const stdout: Array<unknown> = []
let main = -1

/** What the worker wrote to stdout, decoded: its frames, and the bytes outside them. */
const written = () => {
  const messages: Array<unknown> = []
  const decoder = new FrameDecoder((payload) => void messages.push(decodePayload(payload)), () => {})
  decoder.push(Buffer.concat(stdout.map((chunk) => Buffer.from(chunk as Uint8Array))))
  return messages
}

const until = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe("the pool's worker in the guest", () => {
  beforeAll(async () => {
    main = libc.open("/dev/ptmx", 0o2 | 0o400)
    assert.isAtLeast(main, 0)
    assert.strictEqual(libc.ioctlStruct(main, TIOCSPTLCK, Buffer.alloc(4)), 0)
    const number = Buffer.alloc(4)
    assert.strictEqual(libc.ioctlStruct(main, TIOCGPTN, number), 0)
    vi.stubEnv(inputsVariable, `/dev/pts/${number.readUInt32LE(0)} /dev/unused`)
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(chunk)
      return true
    })
    await import("../../src/guest/vitestWorker.ts")
    vi.mocked(process.stdout.write).mockRestore()
  })

  afterAll(() => {
    // The console's stream would outlive the test file; closed first, its end is no error.
    for (const stream of wiring.streams) stream.destroy()
    vi.unstubAllEnvs()
    libc.close(main)
  })

  it("runs vitest's worker loop as the forks pool does, and then says hello", () => {
    assert.strictEqual(wiring.init.length, 1)
    const messages = written()
    assert.strictEqual(messages.length, 1)
    assert.isTrue(isHello(messages[0]))
    assert.deepStrictEqual(messages[0], hello)
    const [options] = wiring.init
    assert.strictEqual(options!.setup, "vitest's setupEnvironment")
    options!.runTests("state", "traces")
    options!.collectTests("other state", undefined)
    assert.deepStrictEqual(wiring.runBaseTests, [["run", "state", "traces"], ["collect", "other state", undefined]])
  })

  it("reads its input console in raw mode", () => {
    const [stream] = wiring.streams
    assert.isTrue(stream?.isRaw)
  })

  it("posts vitest's messages as frames on stdout", () => {
    const [options] = wiring.init
    stdout.length = 0
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(chunk)
      return true
    })
    try {
      options!.post({ __vitest_worker_response__: true, type: "started", pattern: /x/g, missing: undefined })
    } finally {
      vi.mocked(process.stdout.write).mockRestore()
    }
    assert.deepStrictEqual(written(), [{
      __vitest_worker_response__: true,
      type: "started",
      pattern: /x/g,
      missing: undefined
    }])
  })

  it("hands each frame from its console to every listener, unmangled, and stops when one is taken off", async () => {
    const [options] = wiring.init
    const first: Array<unknown> = []
    const second: Array<unknown> = []
    const onFirst = (message: unknown) => void first.push(message)
    options!.on(onFirst)
    options!.on((message) => void second.push(message))
    // What a cooked terminal would change: CR, ^C, ^D, ^Z, ^S and bytes above 127.
    const message = {
      type: "run",
      text: "a\r\nb\u0003\u0004\u001a\u0013\u00ff",
      bytes: new Uint8Array([13, 10, 3, 255])
    }
    const frame = encodeMessage(message)
    libc.write(main, Buffer.concat([Buffer.from("noise"), frame.subarray(0, 5)]))
    await new Promise((resolve) => setTimeout(resolve, 20))
    libc.write(main, frame.subarray(5))
    await until(() => first.length === 1 && second.length === 1, "both listeners have the message")
    assert.deepStrictEqual(first, [message])
    options!.off(onFirst)
    libc.write(main, encodeMessage("second"))
    await until(() => second.length === 2, "the listener still on has the next")
    assert.deepStrictEqual(first, [message])
    assert.deepStrictEqual(second, [message, "second"])
    options!.teardown()
    libc.write(main, encodeMessage("third"))
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.strictEqual(second.length, 2, "teardown takes every listener off")
  })
})

describe("the pool's worker in the guest without an input console", () => {
  afterEach(() => {
    vi.restoreAllMocks()
    vi.unstubAllEnvs()
  })

  it("says so on stderr and exits 1", async () => {
    vi.resetModules()
    vi.stubEnv(inputsVariable, "")
    let stderr = ""
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk)
      return true
    })
    const exit = new Error("process.exit")
    const codes: Array<unknown> = []
    vi.spyOn(process, "exit").mockImplementation(
      ((code?: unknown) => {
        codes.push(code)
        throw exit
      }) as typeof process.exit
    )
    const streams = wiring.streams.length
    const imported = await import("../../src/guest/vitestWorker.ts").then(() => "imported", (error: unknown) => error)
    assert.strictEqual(imported, exit)
    assert.deepStrictEqual(codes, [1])
    assert.strictEqual(stderr, `effect-sysinit vitest worker: ${inputsVariable} names no input console\n`)
    assert.strictEqual(wiring.streams.length, streams, "no console opened")
  })
})
