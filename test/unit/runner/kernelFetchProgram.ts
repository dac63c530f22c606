// Finds a kernel as the runner does (Kernel.find), by the name in argv[2]
// (the default when empty), and prints what it found as JSON: a run of its
// own, which kernelFetch.test.ts kills midway, with the fake apt (fakeApt.ts)
// first on PATH.
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as Progress from "../../../src/runner/fetch/Progress.ts"
import * as Kernel from "../../../src/runner/kernel/Kernel.ts"

const name = process.argv[2] ?? ""
const reporter = Progress.make((text) => void process.stderr.write(text), false)

const program = Kernel.find(name === "" ? undefined : name).pipe(
  Effect.map((found) => ({ ok: true, ...found })),
  Effect.catch((error) => Effect.succeed({ ok: false, tag: error._tag, message: error.message })),
  Effect.provideService(Progress.Progress, reporter),
  Effect.provide(NodeServices.layer)
)

Effect.runPromise(program).then((result) => {
  process.stdout.write(`${JSON.stringify(result)}\n`)
})
