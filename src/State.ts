/**
 * What a run of `Sysinit.run` keeps while its steps run: the exit code to
 * report and the host pipes that were set up.
 *
 * @since 0.1.0
 */
import { Context, Effect, Option, Ref } from "effect"
import type { HostPipe } from "./HostPipe.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface StateShape {
  /** Reported as `VIRTRUN_EXIT_CODE: <n>` when the run ends without failure. */
  readonly exitCode: Ref.Ref<Option.Option<number>>
  /** The host pipes, once set up; a run sets them up at most once. */
  readonly hostPipes: Ref.Ref<Option.Option<ReadonlyArray<HostPipe>>>
}

/**
 * The state of the current run, provided to every step.
 *
 * @since 0.1.0
 * @category services
 */
export class State extends Context.Service<State, StateShape>()("effect-sysinit/State") {}

/**
 * A fresh state: no exit code, no host pipes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<StateShape> = Effect.gen(function*() {
  return {
    exitCode: yield* Ref.make(Option.none<number>()),
    hostPipes: yield* Ref.make(Option.none<ReadonlyArray<HostPipe>>())
  }
})
