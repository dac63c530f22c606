/**
 * The init's log line, digit by digit: date and time in UTC and the
 * microseconds of the clock's nanoseconds (not the milliseconds padded).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Logger } from "effect"
import * as SysinitLogger from "../../src/internal/logger.ts"
import * as InitLog from "../../src/protocol/initLog.ts"

// 2026-11-27T08:53:12.123456789Z: every unit differs from its neighbours, and the microseconds are not a whole millisecond.
const nanos = BigInt(Date.UTC(2026, 10, 27, 8, 53, 12, 123)) * 1_000_000n + 456_789n

/** A clock stopped at `at` nanoseconds since the epoch. */
const stoppedClock = (at: bigint): Clock.Clock => ({
  currentTimeMillisUnsafe: () => Number(at / 1_000_000n),
  currentTimeMillis: Effect.sync(() => Number(at / 1_000_000n)),
  currentTimeNanosUnsafe: () => at,
  currentTimeNanos: Effect.sync(() => at),
  monotonicTimeNanosUnsafe: () => at,
  monotonicTimeNanos: Effect.sync(() => at),
  sleep: () => Effect.void
})

describe("the init's log lines", () => {
  const timestamps: ReadonlyArray<readonly [string, bigint, string]> = [
    ["to the microsecond", nanos, "2026/11/27 08:53:12.123456"],
    [
      "with leading zeros",
      BigInt(Date.UTC(2027, 0, 2, 3, 4, 5, 6)) * 1_000_000n + 7_000n,
      "2027/01/02 03:04:05.006007"
    ],
    ["at the epoch", 0n, "1970/01/01 00:00:00.000000"]
  ]
  for (const [name, at, text] of timestamps) {
    it(`give the time in UTC ${name}`, () => {
      assert.strictEqual(InitLog.timestamp(at), text)
    })
  }

  it.effect("are the prefix, the clock's time to the microsecond, the level padded to five, the message", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = SysinitLogger.make((line) => lines.push(line))
      yield* Effect.logWarning("disk", { free: 0 }).pipe(
        Effect.provide(Logger.layer([logger])),
        Effect.provideService(Clock.Clock, stoppedClock(nanos))
      )
      assert.deepStrictEqual(lines, ["sysinit 2026/11/27 08:53:12.123456 WARN  disk { free: 0 }\n"])
    }))
})
