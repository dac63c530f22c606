/**
 * The runner's entry (start.ts: the command on the process's arguments) and
 * how its process ends (main.runMain): a stop signal or a parent that went
 * away ends it with 128 + the signal's number once the run is interrupted,
 * a failure with its code, a success with the code the command set.
 * `bundle` run in this process (cliInProcess.ts): the init as one file and
 * koffi's binary in --out-dir, made when missing; a bundle that fails ends
 * with 125 and says why. And the pieces of output.ts that no command line
 * reaches: the verbose-only reporters, effect/cli's refusals no command can
 * make (a missing required flag, anything else), a failure of the runner's
 * own, and the guest's stdout once its reader went away (last: it stays so
 * for the file).
 */
import { afterAll, afterEach, assert, describe, it, vi } from "@effect/vitest"
import { Console, Effect } from "effect"
import { CliError } from "effect/cli"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Main from "../../../src/runner/cli/main.ts"
import * as Output from "../../../src/runner/cli/output.ts"
import { exitCodes } from "../../../src/runner/exitCodes.ts"
import { koffiNativeName } from "../../../src/runner/image/Bundle.ts"
import { runCli } from "./cliInProcess.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-main-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const hello = path.join(import.meta.dirname, "../../../examples/hello.ts")

/** Runs `effect` with main.runMain, `process.exit` stood in for, and the handlers it adds to the process. */
const runMainOf = (effect: Effect.Effect<void, unknown>) => {
  const exits: Array<number | undefined> = []
  const exitCalled = new Promise<void>((resolve) => {
    vi.spyOn(process, "exit").mockImplementation(
      ((code?: number) => {
        exits.push(code)
        resolve()
      }) as typeof process.exit
    )
  })
  const before = new Map(Main.stopSignals.map((signal) => [signal, process.listeners(signal)]))
  Main.runMain(effect, { disableErrorReporting: true })
  const handlers = new Map(Main.stopSignals.map((signal) => [
    signal,
    process.listeners(signal).filter((listener) => !before.get(signal)!.includes(listener))
  ]))
  return { exits, exitCalled, handlers }
}

afterEach(() => void vi.restoreAllMocks())

const settled = () => new Promise((resolve) => setTimeout(resolve, 20))

describe("main.runMain", () => {
  const signals: ReadonlyArray<readonly [NodeJS.Signals, number]> = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]
  for (const [signal, status] of signals) {
    it(`ends the process with ${status} on ${signal}, once the run is interrupted, and takes its handlers back`, async () => {
      let interrupted = false
      const { exitCalled, exits, handlers } = runMainOf(
        Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void (interrupted = true))))
      )
      assert.lengthOf(handlers.get(signal)!, 1, "a handler of its own for each stop signal")
      // The handler itself, not process.emit: the test's process has handlers of its own.
      for (const handler of handlers.get(signal)!) (handler as (signal: NodeJS.Signals) => void)(signal)
      await exitCalled
      assert.strictEqual(exits[0], status)
      assert.isTrue(interrupted, "the run was interrupted first: QEMU killed, temporary files gone")
      for (const [stop, added] of handlers) {
        for (const handler of added) assert.notInclude(process.listeners(stop), handler)
      }
    })
  }

  it("ends the process as on SIGTERM when its parent goes away", async () => {
    const parent = Object.getOwnPropertyDescriptor(process, "ppid")!
    try {
      const { exitCalled, exits } = runMainOf(Effect.never)
      Object.defineProperty(process, "ppid", { ...parent, value: process.ppid + 1 })
      await exitCalled
      assert.strictEqual(exits[0], 143)
    } finally {
      Object.defineProperty(process, "ppid", parent)
    }
  })

  it("ends the process with a failure's code", async () => {
    const { exitCalled, exits } = runMainOf(Effect.fail(new Error("boom")))
    await exitCalled
    assert.deepStrictEqual(exits, [1])
  })

  it("leaves the exit code the command set to the process when the run succeeds", async () => {
    const { exits, handlers } = runMainOf(Effect.void)
    await settled()
    assert.deepStrictEqual(exits, [], "the process ends by itself, with process.exitCode")
    for (const [stop, added] of handlers) {
      for (const handler of added) assert.notInclude(process.listeners(stop), handler)
    }
  })
})

describe("the runner's entry (start.ts)", () => {
  it("runs the command on the process's arguments", async () => {
    const argv = process.argv
    const printed = new Promise<string>((resolve) => {
      vi.spyOn(globalThis.console, "log").mockImplementation((line: string) => resolve(line))
    })
    process.argv = [argv[0]!, "effect-sysinit", "--version"]
    try {
      await import("../../../src/runner/cli/start.ts")
      assert.match(await printed, /^effect-sysinit v?0\.1\.0$/)
    } finally {
      process.argv = argv
    }
  })
})

describe("effect-sysinit bundle", () => {
  it("writes the init as one file and koffi's binary into --out-dir, which it makes, and lists them", async () => {
    const out = path.join(work, "new", "out")
    const run = await runCli(["bundle", "--out-dir", out, hello])
    assert.strictEqual(run.status, 0, run.stderr)
    const written = [path.join(out, "init.mjs"), path.join(out, koffiNativeName)]
    assert.strictEqual(run.stdout, `${written.join("\n")}\n`)
    assert.strictEqual(fs.statSync(written[0]!).mode & 0o777, 0o755)
    const parsed = spawnSync(process.execPath, ["--check", written[0]!], { encoding: "utf8" })
    assert.strictEqual(parsed.status, 0, `a module node parses: ${parsed.stderr}`)
    assert.notMatch(fs.readFileSync(written[0]!, "utf8"), /from ["']effect["']/, "effect is in it, not imported")
    assert.isAbove(fs.statSync(written[1]!).size, 0)
  }, 60_000)

  it("exits with 125 and says why, where esbuild does, when the init does not bundle", async () => {
    const broken = path.join(work, "broken.ts")
    fs.writeFileSync(broken, "import { nothing } from \"./nowhere.ts\"\nnothing(\n")
    const run = await runCli(["bundle", "--out-dir", path.join(work, "broken-out"), broken])
    assert.strictEqual(run.status, exitCodes.RunnerFailed, run.stderr)
    assert.strictEqual(run.stdout, "")
    assert.match(run.stderr, /^effect-sysinit: cannot bundle \S*broken\.ts: Build failed with 1 error:\n/)
    assert.include(run.stderr, "broken.ts:3:0: ERROR: Unexpected end of file", "where, as esbuild says it")
  }, 60_000)
})

/** What an effect writes through Console.error. */
const errorLines = (effect: Effect.Effect<void, unknown>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const console: Console.Console = Object.assign(Object.create(globalThis.console), {
      error: (line: string) => void lines.push(line)
    })
    yield* Effect.exit(effect.pipe(Effect.provideService(Console.Console, console)))
    return lines
  })

describe("output", () => {
  const reporters: ReadonlyArray<readonly [string, boolean, ReadonlyArray<string>]> = [
    ["without --verbose, warnings only", false, ["effect-sysinit: a warning"]],
    [
      "with --verbose, console 0 as it came and the notes, prefixed",
      true,
      ["[    0.5] a line of console 0", "effect-sysinit: a note", "effect-sysinit: a warning"]
    ]
  ]
  for (const [name, verbose, expected] of reporters) {
    it.effect(`says on stderr ${name}`, () =>
      Effect.gen(function*() {
        const report = Output.reporters(verbose)
        const lines = yield* errorLines(
          Effect.all([report.console("[    0.5] a line of console 0"), report.note("a note"), report.warn("a warning")])
        )
        assert.deepStrictEqual(lines, expected)
      }))
  }

  const refusals: ReadonlyArray<readonly [string, CliError.NonShowHelpErrors, Output.UsageError]> = [
    [
      "a required flag missing",
      new CliError.MissingOption({ option: "name" }),
      new Output.UsageError({ flag: "--name", value: undefined, message: "--name: missing, and it is required" })
    ],
    [
      "anything else, by the first line of its message",
      new CliError.ValidationError({ message: "the flags do not agree\nmore about it" }),
      new Output.UsageError({ flag: undefined, value: undefined, message: "the flags do not agree" })
    ]
  ]
  for (const [name, error, expected] of refusals) {
    it(`says effect/cli's refusal of ${name}`, () => {
      assert.deepStrictEqual(Output.usageErrorOf(error), expected)
    })
  }

  it.effect("ends on a failure of the runner's own with 125 and its message, and on input it refuses with a UsageError", () =>
    Effect.gen(function*() {
      const saved = process.exitCode
      try {
        const lines = yield* errorLines(Output.fail({ _tag: "QemuNotFound", message: "qemu-system-x86_64 not found" }))
        assert.strictEqual(process.exitCode, exitCodes.RunnerFailed)
        assert.deepStrictEqual(lines, ["effect-sysinit: qemu-system-x86_64 not found"])
      } finally {
        process.exitCode = saved
      }
      for (const tag of ["InvalidInput", "ProgramUnusable", "KernelLacksModules"]) {
        const error = yield* Effect.flip(Output.fail({ _tag: tag, message: "--kernel: no 9p", flag: "--kernel" }))
        assert.deepStrictEqual(
          error,
          new Output.UsageError({ flag: "--kernel", value: undefined, message: "--kernel: no 9p" })
        )
      }
    }))

  // Last: once stdout's reader went away, the module drops the guest's output for good.
  it.effect("drops the guest's stdout once its reader went away (| head), and the run goes on", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const original = process.stdout.write
      process.stdout.write = ((chunk: Uint8Array, callback: (error?: Error) => void) => {
        written.push(Buffer.from(chunk).toString())
        process.nextTick(() => callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })))
        return false
      }) as typeof process.stdout.write
      try {
        yield* Output.writeStdout(new TextEncoder().encode("read by head\n"))
        yield* Output.writeStdout(new TextEncoder().encode("nobody reads this\n"))
      } finally {
        process.stdout.write = original
      }
      assert.deepStrictEqual(written, ["read by head\n"])
    }))
})
