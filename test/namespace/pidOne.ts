/**
 * The inside half of the namespace tier: a program running as PID 1 calls
 * `runScenarios`, which runs the scenarios named on its command line (all
 * when none is) with the live kernel and prints each outcome as one line
 * `OUTCOME {"name": …, "outcome": …}` on stdout, for the harness to read.
 */
import { Cause, Effect, Exit } from "effect"
import * as Fs from "node:fs"
import { live } from "../../src/Layer.ts"
import { SyscallError, type Syscalls } from "../../src/Syscalls.ts"

/** What became of a scenario, as JSON. */
export type Outcome =
  | { readonly kind: "Success"; readonly value: unknown }
  | { readonly kind: "SyscallError"; readonly syscall: string; readonly errno: string; readonly path?: string }
  | { readonly kind: "Failure"; readonly error: string }
  | { readonly kind: "Defect"; readonly cause: string }

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (Exit.isSuccess(exit)) return { kind: "Success", value: exit.value }
  const failure = exit.cause.reasons.find(Cause.isFailReason)
  if (failure === undefined) return { kind: "Defect", cause: Cause.pretty(exit.cause) }
  const error = failure.error
  if (error instanceof SyscallError) {
    return {
      kind: "SyscallError",
      syscall: error.syscall,
      errno: error.errno,
      ...(error.path === undefined ? {} : { path: error.path })
    }
  }
  return { kind: "Failure", error: String(error) }
}

/** Runs the scenarios named in argv (all, in order, when none is), each with the live kernel. */
export const runScenarios = async (
  scenarios: Readonly<Record<string, Effect.Effect<unknown, unknown, Syscalls>>>
): Promise<void> => {
  const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(scenarios)
  for (const name of names) {
    const scenario = scenarios[name] ?? Effect.die(`no scenario ${name}`)
    const exit = await Effect.runPromiseExit(Effect.provide(scenario, live))
    // Synchronous, so that a scenario that ends the process still has its predecessors' lines out.
    Fs.writeSync(1, `OUTCOME ${JSON.stringify({ name, outcome: outcomeOf(exit) })}\n`)
  }
}
