/**
 * `Init.main` in the tests' own process, which is not PID 1: it must say
 * why on stderr, leave with exit code 1 and change nothing (no step runs,
 * stdout stays). Its run as PID 1 is the VM tier's.
 */
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { vi } from "vitest"
import * as Init from "../../src/Init.ts"

let stderr = ""
beforeEach(() => {
  stderr = ""
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk)
    return true
  })
})
afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = undefined
})

const platform = process.platform
const pretendPlatform = (value: string) => Object.defineProperty(process, "platform", { value, configurable: true })

describe("Init.main off PID 1", () => {
  it("says the process is not PID 1, leaves with exit code 1, and runs no step", async () => {
    let ran = false
    const stdoutWrite = process.stdout.write
    await Effect.runPromise(Fiber.join(Init.main(Effect.sync(() => (ran = true)))))
    assert.strictEqual(
      stderr,
      `sysinit: process has PID ${process.pid}, not 1: the init must be the first process of the machine\n`
    )
    assert.strictEqual(process.exitCode, 1)
    assert.isFalse(ran)
    assert.strictEqual(process.stdout.write, stdoutWrite, "stdout not sent to a host pipe")
  })

  it("mainWith, its options taken, says the same", async () => {
    let ran = false
    await Effect.runPromise(
      Fiber.join(Init.mainWith({ timeout: "1 second", stdoutHostPipe: false }, Effect.sync(() => (ran = true))))
    )
    assert.match(stderr, /^sysinit: process has PID \d+, not 1/)
    assert.strictEqual(process.exitCode, 1)
    assert.isFalse(ran)
  })

  it("where the live kernel cannot be loaded, says why and leaves with exit code 1", async () => {
    pretendPlatform("darwin")
    try {
      await Effect.runPromise(Fiber.join(Init.main()))
    } finally {
      pretendPlatform(platform)
    }
    assert.strictEqual(stderr, "sysinit: the live kernel is unavailable: the host runs darwin, not Linux\n")
    assert.strictEqual(process.exitCode, 1)
  })
})
