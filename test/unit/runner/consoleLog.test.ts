import { assert, describe, it } from "@effect/vitest"
import * as ConsoleLog from "../../../src/runner/machine/consoleLog.ts"

const { Outcome } = ConsoleLog

// Lines as a VM under TCG printed them (test/vm and the runner with --verbose).
const panicThrew = "[    5.123456] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100"
const panicSegv = "[   34.194832] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b"
const deadlocked = "[    5.746376] Kernel panic - not syncing: System is deadlocked on memory"
const heapFull = "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
const runFailed = "sysinit 2026/11/27 16:28:40.620007 ERROR run failed: boom"

describe("console 0's lines", () => {
  const lines: ReadonlyArray<readonly [string, string, ConsoleLog.Outcome | undefined]> = [
    ["exit code 0", "VIRTRUN_EXIT_CODE: 0", Outcome.Exited({ code: 0 })],
    ["exit code above 255", "VIRTRUN_EXIT_CODE: 300\r", Outcome.Exited({ code: 300 })],
    ["exit code inside a line", "say VIRTRUN_EXIT_CODE: 0", undefined],
    ["exit code with a tail", "VIRTRUN_EXIT_CODE: 0 or so", undefined],
    [
      "kernel panic",
      "[    4.668231] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000",
      Outcome.KernelPanic({ reason: "Attempted to kill init! exitcode=0x00000000" })
    ],
    [
      "out of memory: the OOM killer",
      "[   12.5] Out of memory: Killed process 412 (node)",
      Outcome.OutOfMemory({ reason: "Out of memory: Killed process 412 (node)" })
    ],
    [
      "out of memory: the kernel deadlocked on memory, PID 1 being unkillable",
      deadlocked,
      Outcome.OutOfMemory({ reason: "Kernel panic: System is deadlocked on memory" })
    ],
    [
      "out of memory: no killable process",
      "[    7.1] Kernel panic - not syncing: Out of memory and no killable processes...",
      Outcome.OutOfMemory({ reason: "Kernel panic: Out of memory and no killable processes..." })
    ],
    ["any other line", "[    6.168324] reboot: Restarting system", undefined],
    ["an init log line", "sysinit 2026/11/27 16:28:40.620007 INFO  run ended without an exit code", undefined]
  ]
  for (const [name, line, outcome] of lines) {
    it(`decides the outcome from one line: ${name}`, () => {
      assert.deepStrictEqual(ConsoleLog.readLines([line]).outcome, outcome)
    })
  }

  it("the first deciding line wins", () => {
    const reading = ConsoleLog.readLines(["VIRTRUN_EXIT_CODE: 3", panicThrew])
    assert.deepStrictEqual(reading.outcome, Outcome.Exited({ code: 3 }))
  })

  it("a panic of the init after V8's heap message is out of memory (V8's abort as PID 1 ends in SIGSEGV)", () => {
    const reading = ConsoleLog.readLines([
      "",
      "<--- Last few GCs --->",
      heapFull,
      "----- Native stack trace -----",
      " 1: 0x931db0  [/usr/bin/node]",
      panicSegv
    ])
    assert.deepStrictEqual(reading.outcome, Outcome.OutOfMemory({ reason: heapFull }))
  })

  it("V8's heap message alone decides nothing: a child's node may have printed it", () => {
    assert.deepStrictEqual(
      ConsoleLog.readLines([heapFull, "VIRTRUN_EXIT_CODE: 1"]).outcome,
      Outcome.Exited({ code: 1 })
    )
  })

  it("keeps the init's error entries with the lines that continue them, and nothing else", () => {
    const reading = ConsoleLog.readLines([
      "[    1.000000] Run /init as init process",
      "sysinit 2026/11/27 16:28:40.600000 WARN  optional mount /sys/kernel/debug failed",
      "    a line of a warning",
      "sysinit 2026/11/27 16:28:40.610000 ERROR step panicked: the step threw Error: the step threw",
      "    at <anonymous> (/init:12:3)",
      "[    1.500000] a kernel line ends the entry",
      "    not part of it",
      runFailed,
      "sysinit 2026/11/27 16:28:40.630000 INFO  powering off"
    ])
    assert.deepStrictEqual(reading.errors, [
      "sysinit 2026/11/27 16:28:40.610000 ERROR step panicked: the step threw Error: the step threw\n    at <anonymous> (/init:12:3)",
      runFailed
    ])
    assert.isUndefined(reading.outcome)
    assert.isTrue(reading.anyLine)
  })

  it("keeps at most errorLimits.entries entries of errorLimits.linesPerEntry lines and counts the rest", () => {
    const long = [runFailed, ...Array.from({ length: 100 }, (_, i) => `    at frame ${i}`)]
    const many = Array.from({ length: ConsoleLog.errorLimits.entries + 3 }, () => runFailed)
    const reading = ConsoleLog.readLines([...long, ...many])
    assert.strictEqual(reading.errors.length, ConsoleLog.errorLimits.entries)
    assert.strictEqual(reading.droppedErrors, 4)
    const first = reading.errors[0]!.split("\n")
    assert.strictEqual(first.length, ConsoleLog.errorLimits.linesPerEntry + 1)
    assert.strictEqual(first.at(-1), "    …")
  })

  it("reads the entry guard's report of a throw before Sysinit.run, stack included, before the panic it causes", () => {
    const reading = ConsoleLog.readLines([
      "sysinit 2026/11/27 16:28:40.620007 ERROR the init threw before Sysinit.run: Error: value 2 is too big",
      "    at check (/proc/17860/fd/23:4:24)",
      panicThrew
    ])
    assert.deepStrictEqual(
      reading.outcome,
      Outcome.InitThrew({ error: "Error: value 2 is too big\n    at check (/proc/17860/fd/23:4:24)" })
    )
    assert.deepStrictEqual(reading.errors, [])
  })

  it("reads the entry guard's report of a module that never called Sysinit.run", () => {
    const reading = ConsoleLog.readLines([
      "sysinit 2026/11/27 16:28:40.620007 ERROR the init returned without calling Sysinit.run",
      "[    5.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"
    ])
    assert.deepStrictEqual(reading.outcome, Outcome.InitReturned())
  })

  it("says when console 0 had no line at all", () => {
    assert.isFalse(ConsoleLog.readLines([]).anyLine)
  })

  const endings: ReadonlyArray<readonly [string, string | undefined]> = [
    ["Attempted to kill init! exitcode=0x00000100", "the init exited with status 1"],
    ["Attempted to kill init! exitcode=0x00000000", "the init exited with status 0"],
    ["Attempted to kill init! exitcode=0x0000000b", "the init was killed by signal 11 (SIGSEGV)"],
    ["System is deadlocked on memory", undefined]
  ]
  for (const [reason, ending] of endings) {
    it(`says how the init ended from the kernel's panic: ${reason}`, () => {
      assert.strictEqual(ConsoleLog.initEnding(reason), ending)
    })
  }
})
