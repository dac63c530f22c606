/**
 * PID 1's duties on the live kernel: the scenario named on the command line
 * runs as the init of fresh namespaces (tmpfs standing in for devtmpfs).
 * Finalizers print `finalizer N` on stdout.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Effect } from "effect"
import * as NodeChildProcess from "node:child_process"
import type { NodeProcess } from "../../../src/NodeProcess.ts"
import type { Syscalls } from "../../../src/Syscalls.ts"
import * as Sysinit from "../../../src/Sysinit.ts"
import { orphansAndChildren } from "../../shared/orphans.ts"
import { devtmpfsAsTmpfs } from "./standIns.ts"

const finalizers = [
  Effect.addFinalizer(() => Console.log("finalizer 1")),
  Effect.addFinalizer(() => Console.log("finalizer 2"))
]

/** Another process of the namespace signals PID 1, as `kill -N 1` would from a shell. */
const signalInit = (signal: number) =>
  Effect.sync(() => NodeChildProcess.spawn("sh", ["-c", `kill -${signal} 1`], { stdio: "ignore" }))

const scenarios: Readonly<
  Record<string, Effect.Effect<never, Sysinit.NotPidOne, Syscalls | NodeProcess | NodeServices.NodeServices>>
> = {
  signal: Sysinit.run(...finalizers, Sysinit.setExitCode(0), signalInit(Number(process.argv[3])), Effect.never),
  // The init signals itself, then waits on nothing that keeps the event loop alive: the signal must win over the
  // empty loop. Sent from a step, a later turn of the loop still reads it.
  "signal to itself, then wait": Sysinit.run(
    ...finalizers,
    Sysinit.setExitCode(0),
    Effect.sync(() => process.kill(1, "SIGTERM")),
    Effect.never
  ),
  // Sent from the loop's last callback, the loop empties (beforeExit) before it reads the signal.
  "signal to itself from the loop's last callback, then wait": Sysinit.run(
    ...finalizers,
    Sysinit.setExitCode(0),
    Effect.callback<void>((resume) => {
      setImmediate(() => {
        process.kill(1, "SIGTERM")
        resume(Effect.void)
      })
    }),
    Effect.never
  ),
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
  timeout: Sysinit.runWith({ timeout: "1 second" }, ...finalizers, Sysinit.setExitCode(0), Effect.never),
  orphans: Sysinit.run(...finalizers, orphansAndChildren("sh"), Sysinit.setExitCode(0))
}

const run = scenarios[process.argv[2] ?? ""] ?? Effect.die(`no scenario ${process.argv[2]}`)
Effect.runFork(
  run.pipe(
    Effect.provide(devtmpfsAsTmpfs),
    Effect.provide(NodeServices.layer),
    Effect.catch((error) => Effect.sync(() => process.stderr.write(`run refused: ${String(error)}\n`)))
  )
)
