/**
 * The inits the runner puts into a guest, run on the in-memory machine:
 * `exec`'s built-in init (src/guest/execInit.ts), its steps taken from
 * `Init.main` (whose run on the live kernel as PID 1 is the VM tier's,
 * test/vm/exec.test.ts), and the snapshot's warm-up run.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { vi } from "vitest"
import * as Exec from "../../src/Exec.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import type { ChildRequest } from "../../src/NodeProcess.ts"
import { readyLine } from "../../src/protocol/control.ts"
import type { ExecSpec } from "../../src/protocol/execSpec.ts"
import * as Restore from "../../src/Restore.ts"
import type { Step } from "../../src/Sysinit.ts"
import * as Sysinit from "../../src/Sysinit.ts"
import { withKernel } from "./helpers.ts"

const mains = vi.hoisted(() => [] as Array<ReadonlyArray<unknown>>)

vi.mock("../../src/Init.ts", () => ({
  main: (...steps: ReadonlyArray<unknown>) => void mains.push(steps),
  mainWith: () => {
    throw new Error("exec's init calls Init.main")
  }
}))

await import("../../src/guest/execInit.ts")
const steps = mains[0] as ReadonlyArray<Step<unknown, never>>

const control = "/dev/hvc3"
const machine = (programs: Record<string, (request: ChildRequest) => ReturnType<typeof exited>>) => ({
  consoles: { transport: "virtio" as const, ports: [0, 1, 2, 3] },
  env: { EFFECT_SYSINIT_CONTROL: control },
  filesystems: ["9p", "proc", "sysfs", "devtmpfs", "tmpfs", "devpts", "mqueue", "cgroup2"],
  files: { "/home/input": "the run's stdin\n" },
  programs
})
const exited = (code: number) => ({ _tag: "Exited" as const, code })

/** Runs exec's init up to its ready point, sends it `run`, and gives the run's end. */
const runExecInit = (run: unknown) =>
  Effect.gen(function*() {
    const kernel = yield* MemoryKernel
    const running = yield* Effect.forkChild(Effect.exit(Sysinit.runSteps(...steps)))
    while (!kernel.state.stderr.includes(readyLine)) yield* Effect.yieldNow
    kernel.sendToConsole(
      control,
      Restore.encodeRunMessage({ nonce: "n1", time: Date.UTC(2026, 0, 2), entropy: "AAEC", run })
    )
    return yield* Fiber.join(running)
  })

const spec: ExecSpec = {
  command: "/exec/app",
  args: ["--flag", "a b"],
  cwd: "/work",
  env: { PATH: "/usr/bin", APP: "1" },
  hostname: "guest-1",
  stdin: "/home/input",
  shares: [{ tag: "share0", guest: "/work", readOnly: false }],
  inlineFiles: [{ path: "/exec/app", mode: 0o755, data: Buffer.from("#!/bin/sh\n").toString("base64") }]
}

describe("exec's init", () => {
  it("is one Init.main of the steps every run shares, then the run's own", () => {
    assert.strictEqual(mains.length, 1)
    assert.strictEqual(steps.length, 6)
  })

  it.effect("at its ready point takes the run: its environment, host name, files and shares, then its program", () => {
    const children: Array<ChildRequest> = []
    return Effect.gen(function*() {
      const exit = yield* runExecInit(spec)
      assert.deepStrictEqual(exit._tag === "Success" ? exit.value : exit, Option.some(42), "the program's exit code")
      const kernel = yield* MemoryKernel
      assert.deepStrictEqual([kernel.state.env.get("PATH"), kernel.state.env.get("APP")], ["/usr/bin", "1"])
      assert.strictEqual(kernel.state.sysctls.get("kernel.hostname"), "guest-1")
      assert.strictEqual(kernel.state.tree.get("/exec/app")?.type, "file")
      assert.isTrue(kernel.state.mounts.some((entry) => entry.fsType === "9p" && entry.target === "/work"))
      assert.strictEqual(kernel.state.clock, Date.UTC(2026, 0, 2), "made fresh")
      const [child] = children
      assert.deepStrictEqual([child?.command, child?.args, child?.cwd], ["/exec/app", ["--flag", "a b"], "/work"])
      assert.isNumber(child?.stdin, "the run's stdin file")
      const deviceOf = (
        fd: number | undefined
      ) => (fd === undefined ? undefined : kernel.state.consoles.get(fd)?.device)
      assert.deepStrictEqual([deviceOf(child?.stdout), deviceOf(child?.stderr)], ["/dev/hvc1", "/dev/hvc2"])
      assert.include(kernel.state.stderr, "EFFECT_SYSINIT_RUN n1")
    }).pipe(withKernel(machine({
      "/exec/app": (request) => {
        children.push(request)
        return exited(42)
      }
    })))
  })

  it.effect("runs a terminal's program in a session of its own on that terminal, at its size", () => {
    const children: Array<ChildRequest> = []
    return Effect.gen(function*() {
      const terminal = { device: "/dev/hvc2", windowSize: { rows: 30, columns: 100 } }
      const exit = yield* runExecInit({ ...spec, hostname: undefined, stdin: undefined, terminal })
      assert.deepStrictEqual(exit._tag === "Success" ? exit.value : exit, Option.some(0))
      const [child] = children
      assert.deepStrictEqual(
        [child?.command, child?.args],
        ["setsid", [...Exec.sessionLeaderCommand.slice(1), "/exec/app", "--flag", "a b"]]
      )
      const tty = (yield* MemoryKernel).state.consoles.get(child!.stdin!)
      assert.deepStrictEqual([tty?.device, tty?.cooked, tty?.windowSize], ["/dev/hvc2", true, terminal.windowSize])
      assert.deepStrictEqual([child?.stdout, child?.stderr], [child?.stdin, child?.stdin])
    }).pipe(withKernel(machine({
      setsid: (request) => {
        children.push(request)
        return exited(0)
      }
    })))
  })

  it.effect("fails the run with InvalidExecSpec when the run is not an exec description, running nothing", () => {
    const children: Array<ChildRequest> = []
    return Effect.gen(function*() {
      const exit = yield* runExecInit({ command: "/exec/app" })
      assert.strictEqual(exit._tag, "Failure")
      const error = exit._tag === "Failure" ? exit.cause.reasons[0] : undefined
      assert.instanceOf((error as { readonly error?: unknown } | undefined)?.error, Exec.InvalidExecSpec)
      assert.deepStrictEqual(children, [])
    }).pipe(withKernel(machine({ "/exec/app": (request) => (children.push(request), exited(0)) })))
  })
})

describe("the snapshot's warm-up run", () => {
  afterEach(() => void vi.restoreAllMocks())

  it("runs every step of a typical init on the in-memory machine, touching nothing of this process", async () => {
    const logged: Array<unknown> = []
    vi.spyOn(console, "log").mockImplementation((...args) => void logged.push(...args))
    const before = {
      exit: process.exit,
      write: process.stdout.write,
      signals: ["SIGTERM", "SIGINT", "SIGHUP", "SIGPWR", "SIGCHLD"].map((signal) => process.listenerCount(signal)),
      exitCode: process.exitCode
    }
    const { run } = await import("../../src/guest/snapshotWarmup.ts")
    run()
    for (let i = 0; i < 2000 && logged.length === 0; i++) await new Promise((resolve) => setImmediate(resolve))
    assert.deepStrictEqual(
      logged,
      ["warm-up"],
      "the last step ran: the ones before it, the failing mount among them, went through"
    )
    assert.deepStrictEqual({
      exit: process.exit,
      write: process.stdout.write,
      signals: ["SIGTERM", "SIGINT", "SIGHUP", "SIGPWR", "SIGCHLD"].map((signal) => process.listenerCount(signal)),
      exitCode: process.exitCode
    }, before)
  })
})
