// Resolves an arm64 guest's userland as the runner does (Userland.resolve)
// and prints it as JSON: what userlandFetch.test.ts runs, several at once,
// with the fake apt and npm (fakeApt.ts) first on PATH.
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as Userland from "../../../src/runner/image/Userland.ts"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"

const program = Userland.resolve(Architecture.all.aarch64).pipe(
  Effect.map((found) => ({ ok: true, ...found })),
  Effect.catch((error) => Effect.succeed({ ok: false, tag: error._tag, message: error.message })),
  Effect.provide(NodeServices.layer)
)

Effect.runPromise(program).then((result) => {
  process.stdout.write(`${JSON.stringify(result)}\n`)
})
