/**
 * Runs a program as PID 1 of new user (mapped root), pid, mount, net, ipc and
 * uts namespaces, and reports what happened to it. Everything the program
 * mounts, links or writes stays inside: the mount namespace is private, /proc
 * is the new pid namespace's own, and /tmp is a fresh tmpfs.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as Path from "node:path"
import type { Outcome } from "./pidOne.ts"

/** How PID 1 ended, as its parent saw it. */
export interface PidOneRun {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
}

const unshare = [
  "--user",
  "--map-root-user",
  "--pid",
  "--fork",
  // If unshare itself dies, PID 1 dies with it instead of living on unwatched.
  "--kill-child",
  "--mount",
  "--net",
  "--ipc",
  "--uts",
  "--mount-proc"
]

/**
 * What PID 1 must still see of the host's /tmp once a fresh tmpfs hides it:
 * this checkout and the node running it, when they live there (a clone in
 * /tmp, as CI may make).
 */
const keptUnderTmp: ReadonlyArray<string> = [
  Path.resolve(import.meta.dirname, "../.."),
  Path.dirname(fs.realpathSync(process.execPath))
].filter((path) => path.startsWith("/tmp/"))

// Inside the new mount namespace only: the host's /tmp is bound to /dev/shm
// first, so that what is kept ($KEEP, colon-separated) can be bound back
// under the fresh tmpfs. `exec` keeps the shell's pid for node: node is PID 1.
const scratchTmp = `set -e
if [ -n "$KEEP" ]; then mount --rbind /tmp /dev/shm; fi
mount -t tmpfs -o mode=1777 scratch /tmp
IFS=:
for kept in $KEEP; do mkdir -p "$kept"; mount --rbind "/dev/shm\${kept#/tmp}" "$kept"; done
unset IFS
exec "$0" "$@"`

/** Whether this host lets an unprivileged process make a user namespace, and why not if it does not. */
export const userNamespaces: { readonly available: boolean; readonly reason: string } = (() => {
  const probe = ChildProcess.spawnSync("unshare", [...unshare, "true"], { encoding: "utf8", timeout: 10_000 })
  if (probe.error !== undefined) return { available: false, reason: `unshare cannot run: ${probe.error.message}` }
  if (probe.status !== 0) {
    return { available: false, reason: `unshare ${unshare.join(" ")} true failed: ${probe.stderr.trim()}` }
  }
  return { available: true, reason: "" }
})()

if (!userNamespaces.available) {
  console.warn(
    `\n!!! NAMESPACE TESTS SKIPPED: user namespaces are not available here.\n!!! ${userNamespaces.reason}\n!!! The live kernel is NOT tested on this host.\n`
  )
}

/** A program of test/namespace/programs, by file name. */
export const program = (name: string): string => Path.join(import.meta.dirname, "programs", name)

/** Runs `node file args…` as PID 1 of fresh namespaces. */
export const runAsPidOne = (
  file: string,
  args: ReadonlyArray<string> = [],
  options: { readonly timeoutMs?: number; readonly env?: Readonly<Record<string, string>> } = {}
): Effect.Effect<PidOneRun> =>
  Effect.callback<PidOneRun>((resume) => {
    const child = ChildProcess.spawn(
      "unshare",
      [...unshare, "sh", "-c", scratchTmp, process.execPath, file, ...args],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...options.env, NO_COLOR: "1", KEEP: keptUnderTmp.join(":") }
      }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000)
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer)
      resume(Effect.succeed({ stdout, stderr, exitCode, signal }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

/** The outcomes that `pidOne.ts` printed, by scenario name. */
export const outcomes = (run: PidOneRun): ReadonlyMap<string, Outcome> => {
  const found = new Map<string, Outcome>()
  for (const line of run.stdout.split("\n")) {
    if (!line.startsWith("OUTCOME ")) continue
    const { name, outcome } = JSON.parse(line.slice("OUTCOME ".length)) as { name: string; outcome: Outcome }
    found.set(name, outcome)
  }
  return found
}

/**
 * The scenarios of one program of ./programs (printed by `pidOne.ts`), run
 * once by one PID 1 the first time a test asks, and read by name.
 */
export const scenarios = (file: string) => {
  let shared: Promise<PidOneRun> | undefined
  const run = Effect.promise(() => (shared ??= Effect.runPromise(runAsPidOne(program(file)))))

  const outcome = (name: string): Effect.Effect<Outcome> =>
    Effect.map(run, (result) => {
      const found = outcomes(result).get(name)
      assert.isDefined(found, `no outcome of "${name}"; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`)
      return found!
    })

  const succeeds = (name: string): Effect.Effect<unknown> =>
    Effect.map(outcome(name), (found) => {
      assert.strictEqual(found.kind, "Success", JSON.stringify(found))
      return found.kind === "Success" ? found.value : undefined
    })

  const failsWith = (name: string, syscall: string, errno: string, path?: string): Effect.Effect<void> =>
    Effect.map(outcome(name), (found) => {
      assert.deepStrictEqual(found, { kind: "SyscallError", syscall, errno, ...(path === undefined ? {} : { path }) })
    })

  return { run, outcome, succeeds, failsWith }
}
