/**
 * `node bench/profile.ts [OUT.cpuprofile]`: boots configuration 1 once with
 * V8's CPU profiler on in the guest and prints where its time went, by
 * function and by module; the profile itself is saved for Chrome's DevTools.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, FileSystem } from "effect"
import { fileURLToPath } from "node:url"
import * as Runner from "../src/runner/Runner.ts"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const output = process.argv[2] ?? "guest.cpuprofile"

const top = (totals: Map<string, number>, n: number) =>
  [...totals].toSorted((a, b) => b[1] - a[1]).slice(0, n).map(([name, ms]) =>
    `  ${ms.toFixed(0).padStart(6)} ms  ${name}`
  )

const summarize = (profile: Profile): string => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const byFunction = new Map<string, number>()
  const byModule = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    const where = frame.url === "" ? "(native)" : frame.url.replace(/^file:\/\//, "")
    const name = `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms)
    byModule.set(where, (byModule.get(where) ?? 0) + ms)
  })
  return ["self time by function:", ...top(byFunction, 25), "self time by script:", ...top(byModule, 10)].join("\n")
}

Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const report = yield* Runner.run({
    init: fileURLToPath(new URL("inits/profiled.ts", import.meta.url)),
    stdout: () => Effect.void,
    console: () => Effect.void,
    outputs: [output],
    timeout: "180 seconds"
  })
  yield* Console.log(`outcome ${report.outcome._tag}, startup ${report.startup}, profile in ${output}`)
  const profile = JSON.parse(yield* fs.readFileString(output)) as Profile
  yield* Console.log(summarize(profile))
}).pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
