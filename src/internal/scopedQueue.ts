import { Effect, Queue } from "effect"
import type { Scope } from "effect"

/**
 * A queue fed by a callback for as long as the scope is open: `subscribe`
 * registers `push` and returns how to unregister it.
 */
export const scopedQueue = <A>(
  subscribe: (push: (value: A) => void) => () => void
): Effect.Effect<Queue.Dequeue<A>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const queue = yield* Queue.unbounded<A>()
      const unsubscribe = subscribe((value) => {
        Queue.offerUnsafe(queue, value)
      })
      return { queue, unsubscribe }
    }),
    ({ queue, unsubscribe }) =>
      Effect.andThen(
        Effect.sync(unsubscribe),
        Queue.shutdown(queue)
      )
  ).pipe(Effect.map(({ queue }) => queue))
