/**
 * A step for the init under test: a shell double-forks 50 short-lived
 * grandchildren (orphans for PID 1 to reap) while 50 children of
 * node:child_process and 50 of Effect's ChildProcess exit with known codes.
 * Only the shell's builtins are used: a VM has no other programs.
 * Prints `RESULT {json}` on stdout: whether each child reported its true
 * exit code, and the zombies left a second later.
 */
import { Console, Effect } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as NodeChildProcess from "node:child_process"
import * as fs from "node:fs"

const zombies = (): Array<number> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
      return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z") ? [Number(pid)] : []
    } catch {
      return []
    }
  })

const nodeChildExit = (shell: string, code: number) =>
  Effect.callback<number | null>((resume) => {
    NodeChildProcess.spawn(shell, ["-c", `exit ${code}`], { stdio: "ignore" }).on(
      "exit",
      (exitCode) => resume(Effect.succeed(exitCode))
    )
  })

// Each ( … & ) subshell exits at once: its background loop is re-parented to PID 1 and dies a zombie there.
const doubleFork50 =
  "i=0; while [ $i -lt 50 ]; do i=$((i+1)); (j=0; while [ $j -lt 2000 ]; do j=$((j+1)); done &); done"

export const orphansAndChildren = (shell: string) =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const codes = Array.from({ length: 50 }, (_, i) => (i * 7) % 256)
    const orphans = NodeChildProcess.spawnSync(shell, ["-c", doubleFork50])
    const [viaNode, viaEffect] = yield* Effect.all([
      Effect.forEach(codes, (code) => nodeChildExit(shell, code), { concurrency: "unbounded" }),
      Effect.forEach(
        codes,
        (code) => spawner.exitCode(ChildProcess.make(shell, ["-c", `exit ${code}`])).pipe(Effect.map(Number)),
        { concurrency: "unbounded" }
      )
    ], { concurrency: "unbounded" })
    yield* Effect.sleep("1500 millis")
    yield* Console.log(`RESULT ${
      JSON.stringify({
        orphansSpawned: orphans.status,
        nodeCodesTrue: viaNode.every((code, i) => code === codes[i]),
        effectCodesTrue: viaEffect.every((code, i) => code === codes[i]),
        zombies: zombies()
      })
    }`)
  })
