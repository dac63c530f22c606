import { assert, describe, it } from "@effect/vitest"
import { Data, Effect } from "effect"
import * as RunState from "../../src/State.ts"

class Refused extends Data.TaggedError("Refused")<{ readonly attempt: number }> {}

/** An effect that counts its runs and returns the count. */
const counted = () => {
  let runs = 0
  return { runs: () => runs, make: Effect.sync(() => ++runs) }
}

describe("State.once", () => {
  it.effect("makes a key's value the first time a run asks, and returns that value after", () =>
    Effect.gen(function*() {
      const { make, runs } = counted()
      const state = yield* RunState.make
      const once = RunState.once("pipes", make).pipe(Effect.provideService(RunState.State, state))
      assert.deepStrictEqual([yield* once, yield* once, yield* once], [1, 1, 1])
      assert.strictEqual(runs(), 1)
    }))

  it.effect("makes it again in another run, and separately for another key", () =>
    Effect.gen(function*() {
      const { make, runs } = counted()
      const inRun = (state: RunState.StateShape, key: string) =>
        RunState.once(key, make).pipe(Effect.provideService(RunState.State, state))
      const first = yield* RunState.make
      const second = yield* RunState.make
      assert.strictEqual(yield* inRun(first, "a"), 1)
      assert.strictEqual(yield* inRun(first, "b"), 2)
      assert.strictEqual(yield* inRun(second, "a"), 3)
      assert.deepStrictEqual([yield* inRun(first, "a"), yield* inRun(second, "a")], [1, 3])
      assert.strictEqual(runs(), 3)
    }))

  it.effect("does not keep a failure: the next ask tries again, and its success is kept", () =>
    Effect.gen(function*() {
      let attempts = 0
      const flaky = Effect.suspend(() => {
        attempts += 1
        return attempts === 1 ? Effect.fail(new Refused({ attempt: attempts })) : Effect.succeed(`made on ${attempts}`)
      })
      const state = yield* RunState.make
      const once = RunState.once("flaky", flaky).pipe(Effect.provideService(RunState.State, state))
      const error = yield* Effect.flip(once)
      assert.deepStrictEqual(error, new Refused({ attempt: 1 }))
      assert.strictEqual(yield* once, "made on 2")
      assert.strictEqual(yield* once, "made on 2")
      assert.strictEqual(attempts, 2)
    }))
})
