/**
 * The inside half of the namespace tier: a program running as PID 1 calls
 * `runScenarios`, which runs the scenarios named on its command line (all
 * when none is) with the live kernel and prints each outcome as one line
 * `OUTCOME {"name": …, "outcome": …}` on stdout, for the harness to read.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import { live } from "../../src/Layer.ts"
import type { NodeProcess } from "../../src/NodeProcess.ts"
import type { Syscalls } from "../../src/Syscalls.ts"
import { outcomeOf } from "../contract/outcome.ts"

export type { Outcome } from "../contract/outcome.ts"

/** Runs the scenarios named in argv (all, in order, when none is), each with the live kernel. */
export const runScenarios = async (
  scenarios: Readonly<Record<string, Effect.Effect<unknown, unknown, Syscalls | NodeProcess>>>
): Promise<void> => {
  const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(scenarios)
  for (const name of names) {
    const scenario = scenarios[name] ?? Effect.die(`no scenario ${name}`)
    const exit = await Effect.runPromiseExit(Effect.provide(scenario, live))
    // Synchronous, so that a scenario that ends the process still has its predecessors' lines out.
    Fs.writeSync(1, `OUTCOME ${JSON.stringify({ name, outcome: outcomeOf(exit) })}\n`)
  }
}
