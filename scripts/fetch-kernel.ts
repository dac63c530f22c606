// Usage: node scripts/fetch-kernel.ts [amd64|arm64] [NAME]…
// Fetches Debian's kernels by name (the default, 6.1, when no name is
// given) for a guest architecture into the cache, as the runner does on
// first use, and prints each one's image. What `npm run setup` runs, so that
// the first test run does not wait for a download.
import { NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as Kernel from "../src/runner/kernel/Kernel.ts"
import * as Architecture from "../src/runner/machine/Architecture.ts"

const [archName = "amd64", ...names] = process.argv.slice(2)
const arch = Architecture.parse(archName)

const program = Effect.gen(function*() {
  if (arch._tag === "None") return yield* Effect.fail(`unknown architecture ${archName}: amd64 or arm64`)
  for (const name of names.length === 0 ? [Kernel.defaultName] : names) {
    yield* Console.log((yield* Kernel.find(name, arch.value)).image)
  }
})

Effect.runPromise(program.pipe(Effect.provide(NodeServices.layer))).catch((error: unknown) => {
  console.error(`fetch-kernel: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
