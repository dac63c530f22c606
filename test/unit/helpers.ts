import { assert } from "@effect/vitest"
import { Effect, Exit, Logger } from "effect"
import * as Layer from "../../src/Layer.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import type { SyscallError } from "../../src/Syscalls.ts"

export const withKernel = (options: Layer.MemoryKernelOptions = {}) => Effect.provide(Layer.memory(options))

/** Runs `effect`, expects a SyscallError, and returns it. */
export const syscallError = <A, R>(effect: Effect.Effect<A, unknown, R>): Effect.Effect<SyscallError, never, R> =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    assert.isTrue(Exit.isFailure(exit), "expected a failure")
    const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
    assert.strictEqual(error?._tag, "Fail")
    const failure = (error as { readonly error: SyscallError }).error
    assert.strictEqual(failure._tag, "SyscallError")
    return failure
  })

/** Collects the messages logged by `effect` instead of printing them. */
export const captureLogs = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<[A, ReadonlyArray<string>], E, R> =>
  Effect.suspend(() => {
    const logged: Array<string> = []
    const logger = Logger.make((options) => {
      logged.push(Array.isArray(options.message) ? options.message.join(" ") : String(options.message))
    })
    return effect.pipe(
      Effect.map((a): [A, ReadonlyArray<string>] => [a, logged]),
      Effect.provide(Logger.layer([logger]))
    )
  })

/** The lines the init wrote on console 0 (its stderr) of the in-memory kernel. */
export const consoleLines = Effect.gen(function*() {
  return (yield* MemoryKernel).state.stderr.split("\n").filter(Boolean)
})

/** The exit code lines among them. */
export const exitLines = Effect.map(
  consoleLines,
  (lines) => lines.filter((line) => line.startsWith("VIRTRUN_EXIT_CODE:"))
)
