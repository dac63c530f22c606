import { assert, describe, it } from "@effect/vitest"
import * as ConsoleLog from "../../../src/runner/consoleLog.ts"

describe("console 0's lines", () => {
  const lines: ReadonlyArray<readonly [string, string, ConsoleLog.Outcome | undefined]> = [
    ["exit code 0", "VIRTRUN_EXIT_CODE: 0", ConsoleLog.Outcome.Exited({ code: 0 })],
    ["exit code above 255", "VIRTRUN_EXIT_CODE: 300\r", ConsoleLog.Outcome.Exited({ code: 300 })],
    ["exit code inside a line", "say VIRTRUN_EXIT_CODE: 0", undefined],
    ["exit code with a tail", "VIRTRUN_EXIT_CODE: 0 or so", undefined],
    [
      "kernel panic",
      "[    4.668231] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000",
      ConsoleLog.Outcome.KernelPanic({
        line: "[    4.668231] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"
      })
    ],
    [
      "out of memory",
      "[   12.5] Out of memory: Killed process 1 (node)",
      ConsoleLog.Outcome.OutOfMemory({ line: "[   12.5] Out of memory: Killed process 1 (node)" })
    ],
    ["any other line", "[    6.168324] reboot: Restarting system", undefined]
  ]
  for (const [name, line, outcome] of lines) {
    it(`classifies console 0 lines: ${name}`, () => {
      assert.deepStrictEqual(ConsoleLog.classifyLine(line), outcome)
    })
  }
})
