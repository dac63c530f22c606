/**
 * PID 1's duties on the live kernel: the scenario named on the command line
 * runs as the init of fresh namespaces (tmpfs standing in for devtmpfs).
 * Finalizers print `finalizer N` on stdout; results print as `RESULT {json}`.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Effect } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as NodeChildProcess from "node:child_process"
import * as fs from "node:fs"
import type { Syscalls } from "../../../src/Syscalls.ts"
import * as Sysinit from "../../../src/Sysinit.ts"
import { devtmpfsAsTmpfs } from "./standIns.ts"

const finalizers = [
  Effect.addFinalizer(() => Console.log("finalizer 1")),
  Effect.addFinalizer(() => Console.log("finalizer 2"))
]

const result = (value: unknown) => Console.log(`RESULT ${JSON.stringify(value)}`)

/** Another process of the namespace signals PID 1, as `kill -N 1` would from a shell. */
const signalInit = (signal: number) =>
  Effect.sync(() => NodeChildProcess.spawn("sh", ["-c", `kill -${signal} 1`], { stdio: "ignore" }))

const zombies = (): Array<number> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
      return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z") ? [Number(pid)] : []
    } catch {
      return []
    }
  })

const nodeChildExit = (code: number) =>
  Effect.callback<number | null>((resume) => {
    NodeChildProcess.spawn("sh", ["-c", `exit ${code}`], { stdio: "ignore" }).on(
      "exit",
      (exitCode) => resume(Effect.succeed(exitCode))
    )
  })

const orphansAndChildren = Effect.gen(function*() {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const codes = Array.from({ length: 50 }, (_, i) => (i * 7) % 256)
  // Each ( … & ) subshell exits at once: its sleep is re-parented to PID 1 and dies a zombie there.
  const orphans = NodeChildProcess.spawnSync("sh", ["-c", "for i in $(seq 50); do (sleep 0.2 &); done"])
  const [viaNode, viaEffect] = yield* Effect.all([
    Effect.forEach(codes, nodeChildExit, { concurrency: "unbounded" }),
    Effect.forEach(
      codes,
      (code) => spawner.exitCode(ChildProcess.make("sh", ["-c", `exit ${code}`])).pipe(Effect.map(Number)),
      { concurrency: "unbounded" }
    )
  ], { concurrency: "unbounded" })
  yield* Effect.sleep("1200 millis")
  yield* result({
    orphansSpawned: orphans.status,
    nodeCodesTrue: viaNode.every((code, i) => code === codes[i]),
    effectCodesTrue: viaEffect.every((code, i) => code === codes[i]),
    zombies: zombies()
  })
})

const scenarios: Readonly<
  Record<string, Effect.Effect<never, Sysinit.NotPidOne, Syscalls | NodeServices.NodeServices>>
> = {
  signal: Sysinit.run(...finalizers, Sysinit.setExitCode(0), signalInit(Number(process.argv[3])), Effect.never),
  "uncaught exception": Sysinit.run(
    ...finalizers,
    Sysinit.setExitCode(0),
    Effect.sync(() =>
      setTimeout(() => {
        throw new Error("thrown from a timer")
      }, 10)
    ),
    Effect.never
  ),
  "unhandled rejection": Sysinit.run(
    ...finalizers,
    Sysinit.setExitCode(0),
    Effect.sync(() => void Promise.reject(new Error("nobody handles this"))),
    Effect.never
  ),
  "process.exit": Sysinit.run(
    ...finalizers,
    Effect.sync(() => setTimeout(() => process.exit(3), 10)),
    Effect.never
  ),
  "process.exit after an exit code": Sysinit.run(
    ...finalizers,
    Sysinit.setExitCode(0),
    Effect.sync(() => process.exit(5)),
    Console.log("after process.exit")
  ),
  "empty event loop": Sysinit.run(
    ...finalizers,
    Sysinit.setExitCode(0),
    Effect.promise(() => new Promise<never>(() => {}))
  ),
  timeout: Sysinit.run(...finalizers, Sysinit.setExitCode(0), Effect.never, { timeout: "1 second" }),
  orphans: Sysinit.run(...finalizers, orphansAndChildren, Sysinit.setExitCode(0))
}

const run = scenarios[process.argv[2] ?? ""] ?? Effect.die(`no scenario ${process.argv[2]}`)
Effect.runFork(
  run.pipe(
    Effect.provide(devtmpfsAsTmpfs),
    Effect.provide(NodeServices.layer),
    Effect.catch((error) => Effect.sync(() => process.stderr.write(`run refused: ${String(error)}\n`)))
  )
)
