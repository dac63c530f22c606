/**
 * The contract tables (test/contract) on the live kernel, as PID 1 of fresh
 * namespaces: each case must come to what it expects in a user namespace,
 * which is what the memory kernel answers unless the case says otherwise.
 */
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { nodeProcessContract } from "../contract/nodeProcess.ts"
import { assertOutcome, type ContractCase, expectedIn } from "../contract/outcome.ts"
import { syscallsContract } from "../contract/syscalls.ts"
import { scenarios, userNamespaces } from "./harness.ts"

const { outcome } = scenarios("contract.ts")

const keeps = <R>(row: ContractCase<R>) =>
  Effect.map(outcome(row.name), (found) => assertOutcome(found, expectedIn(row, "userNamespace")))

describe.skipIf(!userNamespaces.available)("the live kernel keeps the contract, as PID 1 of new namespaces", () => {
  describe("Syscalls", () => {
    it.effect.each(syscallsContract)("$name", keeps)
  })

  describe("NodeProcess", () => {
    it.effect.each(nodeProcessContract)("$name", keeps)
  })
})
