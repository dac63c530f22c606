import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import type { Transport } from "../../../src/protocol/consoles.ts"
import * as Flags from "../../../src/runner/cli/flags.ts"
import { colorEnvironment } from "../../../src/runner/cli/output.ts"
import { parseDuration } from "../../../src/runner/duration.ts"
import type * as Architecture from "../../../src/runner/machine/Architecture.ts"
import * as Qemu from "../../../src/runner/machine/Qemu.ts"
import * as Verdict from "../../../src/runner/machine/verdict.ts"

const { Outcome } = Qemu

const ending = (outcome: Qemu.Outcome, errors: ReadonlyArray<string> = [], more: Partial<Qemu.Ending> = {}) => ({
  outcome,
  errors,
  droppedErrors: 0,
  consoleEmpty: false,
  ...more
})

describe("the runner's verdict and its flags", () => {
  const exits: ReadonlyArray<readonly [string, Qemu.Outcome, number, string | undefined]> = [
    ["exit 0", Outcome.Exited({ code: 0 }), 0, undefined],
    ["exit 3", Outcome.Exited({ code: 3 }), 3, undefined],
    [
      "exit 300 is taken modulo 256, and said",
      Outcome.Exited({ code: 300 }),
      44,
      "guest exit code 300, exit status 44"
    ],
    ["exit 269 as Go's os.Exit gives it", Outcome.Exited({ code: 269 }), 13, "exit status 13"],
    ["exit 256 never becomes success", Outcome.Exited({ code: 256 }), 255, "a non-zero code never exits 0"],
    ["exit 512 never becomes success", Outcome.Exited({ code: 512 }), 255, "exit status 255"],
    ["exit -1 is 255", Outcome.Exited({ code: -1 }), 255, "exit status 255"],
    [
      "kernel panic, with how the init ended",
      Outcome.KernelPanic({ reason: "Attempted to kill init! exitcode=0x0000000b" }),
      122,
      "kernel panic: Attempted to kill init! exitcode=0x0000000b (the init was killed by signal 11 (SIGSEGV))"
    ],
    [
      "out of memory, OOM killer",
      Outcome.OutOfMemory({ reason: "Out of memory: Killed process 412 (node)" }),
      123,
      "out of memory"
    ],
    [
      "out of memory in PID 1",
      Outcome.OutOfMemory({ reason: "Kernel panic: System is deadlocked on memory" }),
      123,
      "give the guest more with --memory"
    ],
    [
      "out of memory in V8's heap",
      Outcome.OutOfMemory({
        reason: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
      }),
      123,
      "the init's JavaScript heap reached V8's limit"
    ],
    [
      "a throw before Sysinit.run",
      Outcome.InitThrew({ error: "Error: boom\n    at /home/me/init.ts:3:7" }),
      121,
      "the init threw before Sysinit.run: Error: boom\n    at /home/me/init.ts:3:7"
    ],
    ["no Sysinit.run", Outcome.InitReturned(), 121, "the init returned without calling Sysinit.run"],
    ["no exit code", Outcome.NoExitCode(), 121, "guest error: no exit code found"],
    ["timeout", Outcome.TimedOut({ timeout: Duration.seconds(5) }), 124, "guest timed out after 5s"]
  ]
  for (const [name, outcome, code, says] of exits) {
    it(`exits with the guest's code or its own: ${name}`, () => {
      const exit = Verdict.exitOf(outcome)
      assert.strictEqual(exit.code, code)
      if (says === undefined) assert.isUndefined(exit.reason)
      else assert.include(exit.reason, says)
    })
  }

  it("prints the init's errors before the reason when there is no exit code, unless --verbose showed them", () => {
    const errors = ["sysinit 2026/11/27 16:28:40.620007 ERROR run failed: boom"]
    const quiet = Verdict.verdictOf(ending(Outcome.NoExitCode(), errors), { verbose: false, transport: "serial" })
    assert.deepStrictEqual(quiet, {
      code: 121,
      lines: ["effect-sysinit: guest: run failed: boom", "effect-sysinit: guest error: no exit code found"]
    })
    const verbose = Verdict.verdictOf(ending(Outcome.NoExitCode(), errors), { verbose: true, transport: "serial" })
    assert.deepStrictEqual(verbose.lines, ["effect-sysinit: guest error: no exit code found"])
    const exited = Verdict.verdictOf(ending(Outcome.Exited({ code: 3 }), errors), {
      verbose: false,
      transport: "serial"
    })
    assert.deepStrictEqual(exited, { code: 3, lines: [] })
    const dropped = Verdict.verdictOf(
      ending(Outcome.TimedOut({ timeout: Duration.seconds(1) }), errors, { droppedErrors: 2 }),
      { verbose: false, transport: "serial" }
    )
    assert.include(dropped.lines[1], "2 more error entries")
  })

  it("shows an error entry without its log prefix, and the lines that continue it as they are", () => {
    assert.strictEqual(
      Verdict.guestErrorLines(
        "sysinit 2026/11/27 16:28:40.610000 ERROR step panicked: the step threw\n    at step (/home/me/init.ts:12:3)"
      ),
      "effect-sysinit: guest: step panicked: the step threw\n    at step (/home/me/init.ts:12:3)"
    )
  })

  it("says when console 0 stayed empty, naming the virtio modules over virtio", () => {
    const empty = ending(Outcome.NoExitCode(), [], { consoleEmpty: true })
    assert.include(Verdict.verdictOf(empty, { verbose: false, transport: "virtio" }).lines[0], "virtio modules")
    assert.include(Verdict.verdictOf(empty, { verbose: false, transport: "serial" }).lines[0], "console 0 stayed empty")
  })

  it("a timeout under KVM says to pass --no-kvm; under TCG it does not", () => {
    const timedOut = Qemu.Outcome.TimedOut({ timeout: Duration.seconds(5) })
    assert.include(Verdict.exitOf(timedOut, true).reason, "pass --no-kvm")
    assert.notInclude(Verdict.exitOf(timedOut, false).reason, "--no-kvm")
    assert.strictEqual(Verdict.exitOf(timedOut, true).code, 124)
  })

  const transports: ReadonlyArray<readonly [string, ReadonlyArray<string>, Option.Option<Transport>]> = [
    ["none: the architecture's own", [], Option.none()],
    ["serial", ["serial"], Option.some("serial")],
    ["virtio", ["virtio"], Option.some("virtio")],
    ["pci, virtrun's name for virtio", ["pci"], Option.some("virtio")]
  ]
  for (const [name, values, transport] of transports) {
    it.effect(`reads --transport: ${name}`, () =>
      Effect.gen(function*() {
        const [, parsed] = yield* Flags.transportFlag.parse({ arguments: [], flags: { transport: values } })
        assert.deepStrictEqual(parsed, transport)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  const arches: ReadonlyArray<readonly [ReadonlyArray<string>, Architecture.Architecture]> = [
    [[], "x86_64"],
    [["x86_64"], "x86_64"],
    [["amd64"], "x86_64"],
    [["arm64"], "aarch64"],
    [["aarch64"], "aarch64"],
    [["ARM64"], "aarch64"]
  ]
  for (const [values, arch] of arches) {
    it.effect(`reads --arch ${values.join("") || "(none)"} as ${arch}`, () =>
      Effect.gen(function*() {
        const [, parsed] = yield* Flags.archFlag.parse({ arguments: [], flags: { arch: values } })
        assert.strictEqual(parsed.name, arch)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  it.effect("refuses an --arch it does not know, naming the ones it knows", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Flags.archFlag.parse({ arguments: [], flags: { arch: ["riscv64"] } }))
      assert.include(String(error), "riscv64")
      assert.include(String(error), "aarch64")
    }).pipe(Effect.provide(NodeServices.layer)))

  const kvmModes: ReadonlyArray<readonly [string, Record<string, ReadonlyArray<string>>, Option.Option<boolean>]> = [
    ["no flag: the probe decides", {}, Option.none()],
    ["--kvm", { kvm: ["true"] }, Option.some(true)],
    ["--no-kvm", { kvm: ["false"] }, Option.some(false)]
  ]
  for (const [name, flags, mode] of kvmModes) {
    it.effect(`reads ${name}`, () =>
      Effect.gen(function*() {
        const [, parsed] = yield* Flags.kvmFlag.parse({ arguments: [], flags })
        assert.deepStrictEqual(parsed, mode)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  it.effect("refuses a --transport it does not know", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Flags.transportFlag.parse({ arguments: [], flags: { transport: ["usb"] } }))
      assert.include(String(error), "usb")
    }).pipe(Effect.provide(NodeServices.layer)))

  it("reads timeouts in seconds, milliseconds, minutes and hours", () => {
    assert.deepStrictEqual(parseDuration("90"), Option.some(Duration.seconds(90)))
    assert.deepStrictEqual(parseDuration("1500ms"), Option.some(Duration.millis(1500)))
    assert.deepStrictEqual(parseDuration("2m"), Option.some(Duration.minutes(2)))
    assert.deepStrictEqual(parseDuration("1h"), Option.some(Duration.hours(1)))
    assert.deepStrictEqual(parseDuration("60 seconds"), Option.some(Duration.seconds(60)))
    assert.deepStrictEqual(parseDuration("2 minutes"), Option.some(Duration.minutes(2)))
    assert.deepStrictEqual(parseDuration("soon"), Option.none())
    assert.deepStrictEqual(parseDuration("5 fortnights"), Option.none())
  })

  const timeouts: ReadonlyArray<readonly [string, string, string | undefined]> = [
    ["a duration", "90s", undefined],
    ["zero", "0", "a duration above 0"],
    ["zero milliseconds", "0ms", "a duration above 0"],
    ["not a duration", "soon", "a duration such as 90, 90s, 2m, 1500ms or 60 seconds"]
  ]
  for (const [name, value, refusal] of timeouts) {
    it.effect(`checks --timeout: ${name}`, () =>
      Effect.gen(function*() {
        const parsed = yield* Effect.result(Flags.timeoutFlag.parse({ arguments: [], flags: { timeout: [value] } }))
        if (refusal === undefined) assert.strictEqual(parsed._tag, "Success")
        else assert.include(parsed._tag === "Failure" ? String(parsed.failure) : "accepted", refusal)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  const colors: ReadonlyArray<
    readonly [string, boolean, Record<string, string | undefined>, Record<string, string>]
  > = [
    ["a terminal: the guest's own choice", true, {}, {}],
    ["a file or a pipe: no colour", false, {}, { NO_COLOR: "1" }],
    ["NO_COLOR on a terminal", true, { NO_COLOR: "1" }, { NO_COLOR: "1" }],
    ["an empty NO_COLOR counts as unset", true, { NO_COLOR: "" }, {}],
    ["FORCE_COLOR into a pipe", false, { FORCE_COLOR: "1" }, { FORCE_COLOR: "1" }],
    ["FORCE_COLOR=0", true, { FORCE_COLOR: "0" }, { FORCE_COLOR: "0" }],
    ["FORCE_COLOR before NO_COLOR, as Node reads them", false, { FORCE_COLOR: "2", NO_COLOR: "1" }, {
      FORCE_COLOR: "2"
    }]
  ]
  for (const [name, terminal, env, expected] of colors) {
    it(`colours the guest's output as the host's: ${name}`, () => {
      assert.deepStrictEqual(colorEnvironment(terminal, env), expected)
    })
  }
})
