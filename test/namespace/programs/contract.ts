/**
 * The contract tables (test/contract) on the live kernel, run in order by
 * one PID 1 of fresh namespaces; the test compares each outcome with what
 * its case expects in a user namespace.
 */
import { nodeProcessContract } from "../../contract/nodeProcess.ts"
import { syscallsContract } from "../../contract/syscalls.ts"
import { runScenarios } from "../pidOne.ts"

await runScenarios(
  Object.fromEntries([...syscallsContract, ...nodeProcessContract].map((row) => [row.name, row.run]))
)
