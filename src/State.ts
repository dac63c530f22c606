/**
 * What a run of `Sysinit.run` keeps while its steps run: the exit code to
 * report, and what steps set up once per run (the host pipes).
 *
 * @since 0.1.0
 */
import { Context, Effect, Option, Ref } from "effect"

/**
 * @since 0.1.0
 * @category models
 */
export interface StateShape {
  /** Reported as `VIRTRUN_EXIT_CODE: <n>` when the run ends without failure. */
  readonly exitCode: Ref.Ref<Option.Option<number>>
  /** What steps made once for the whole run, by key (see `once`). */
  readonly made: Map<string, unknown>
}

/**
 * The state of the current run, provided to every step.
 *
 * @since 0.1.0
 * @category services
 */
export class State extends Context.Service<State, StateShape>()("effect-sysinit/State") {}

/**
 * A fresh state: no exit code, nothing made.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<StateShape> = Effect.gen(function*() {
  return { exitCode: yield* Ref.make(Option.none<number>()), made: new Map() }
})

/**
 * Runs `build` the first time a run asks for `key`, and returns what it
 * made every time after: e.g. the host pipes, set up once per run whichever
 * step asks first. A failure is not kept: the next ask tries again.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { Layer, Mount, State, Sysinit } from "effect-sysinit"
 *
 * // A scratch file system for the steps that need one, mounted by the first that asks.
 * const scratch = State.once(
 *   "example/scratch",
 *   Effect.gen(function*() {
 *     yield* Mount.mount("/tmp/scratch", { fsType: Mount.FSType.Tmp })
 *     yield* Console.log("mounted /tmp/scratch")
 *     return "/tmp/scratch"
 *   })
 * )
 *
 * const program = Sysinit.runSteps(
 *   Effect.flatMap(scratch, (dir) => Console.log(`step 1 writes to ${dir}`)),
 *   Effect.flatMap(scratch, (dir) => Console.log(`step 2 reads from ${dir}`))
 * )
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: mounted /tmp/scratch
 * // prints: step 1 writes to /tmp/scratch
 * // prints: step 2 reads from /tmp/scratch
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const once = <A, E, R>(key: string, build: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | State> =>
  Effect.gen(function*() {
    const state = yield* State
    if (state.made.has(key)) return state.made.get(key) as A
    const made = yield* build
    state.made.set(key, made)
    return made
  })
