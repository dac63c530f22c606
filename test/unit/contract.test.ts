/**
 * The contract tables on the in-memory machine, each case on a fresh one.
 * The namespace tier runs the same tables on the live kernel.
 */
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Layer from "../../src/Layer.ts"
import { nodeProcessContract } from "../contract/nodeProcess.ts"
import { assertOutcome, expectedIn, outcomeOf } from "../contract/outcome.ts"
import { syscallsContract } from "../contract/syscalls.ts"

describe("the in-memory machine keeps the contract", () => {
  describe("Syscalls", () => {
    it.effect.each(syscallsContract)("$name", (row) =>
      Effect.map(
        Effect.exit(Effect.provide(row.run, Layer.memory())),
        (exit) => assertOutcome(outcomeOf(exit), expectedIn(row, "machine"))
      ))
  })

  describe("NodeProcess", () => {
    it.effect.each(nodeProcessContract)("$name", (row) =>
      Effect.map(
        Effect.exit(Effect.provide(row.run, Layer.memory())),
        (exit) => assertOutcome(outcomeOf(exit), expectedIn(row, "machine"))
      ))
  })
})
