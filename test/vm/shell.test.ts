/**
 * The VM tier of `effect-sysinit shell`: the CLI as users run it, with a
 * pipe on its stdin, and on a pseudo-terminal of its own that a session
 * drives (ptySession.py, python3's pty): keys, a resize, signals. Each test
 * one boot under TCG. The shell is bash ($SHELL), whatever the runner's is.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { bootTimeout, hasQemu, hasTool } from "./harness.ts"

const repo = join(import.meta.dirname, "../..")
const cli = join(repo, "bin/effect-sysinit")
const driver = join(import.meta.dirname, "ptySession.py")
const shellEnv = { SHELL: "/bin/bash", TERM: "xterm" }

const hasPython = hasTool("python3")
if (hasQemu && !hasPython) {
  if (process.env["CI"] !== undefined) throw new Error("python3 is missing in CI: the terminal sessions need it")
  console.warn("\n!!! SHELL TERMINAL TESTS SKIPPED: python3 is not installed (its pty module plays the terminal).\n")
}

const tempDir = () => fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-shell-test-"))

/** A step of a session (ptySession.py). */
type Step =
  | { readonly expect: string }
  | { readonly send: string }
  | { readonly resize: readonly [number, number] }
  | { readonly waitFile: string }
  | { readonly touch: string }
  | { readonly signal: "SIGTERM" | "SIGINT" | "SIGHUP" }

interface Session {
  readonly exitCode: number | null
  readonly signal: number | null
  readonly output: string
  readonly failedStep: number | null
  readonly sttyBefore: string
  readonly sttyAfter: string
}

/** `effect-sysinit shell FLAGS` on a terminal of `size` in `cwd`, driven by `steps`. */
const session = (
  cwd: string,
  steps: ReadonlyArray<Step>,
  options: { readonly flags?: ReadonlyArray<string>; readonly size?: readonly [number, number] } = {}
): Session => {
  const started = Date.now()
  const spec = {
    command: [process.execPath, cli, "shell", ...(options.flags ?? [])],
    cwd,
    env: shellEnv,
    size: options.size ?? [24, 80],
    steps,
    timeout: (bootTimeout - 20_000) / 1000
  }
  const result = spawnSync("python3", [driver, JSON.stringify(spec)], { encoding: "utf8", timeout: bootTimeout })
  process.stderr.write(
    `shell session ${options.flags?.join(" ") ?? ""}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`
  )
  if (result.status !== 0) throw new Error(`the session's driver failed: ${result.status}\n${result.stderr}`)
  return JSON.parse(result.stdout) as Session
}

const explainSession = (run: Session, steps: ReadonlyArray<Step>) =>
  `exit ${run.exitCode}, signal ${run.signal}, failed step ${
    run.failedStep === null ? "none" : JSON.stringify(steps[run.failedStep])
  }, output:\n${run.output}`

const explain = (result: SpawnSyncReturns<Buffer>) => `status ${result.status}, stderr:\n${result.stderr.toString()}`

// Typed text comes back as typed (the guest's echo): each step expects what only the command's output says.
const ready: ReadonlyArray<Step> = [{ send: "echo ready-$((6*7))\r" }, { expect: "ready-42" }]

describe.skipIf(!hasQemu)("effect-sysinit shell", () => {
  it("reads a pipe: printf 'echo hi\\nexit 3\\n' | effect-sysinit shell prints hi and exits 3", () => {
    const started = Date.now()
    const result = spawnSync(process.execPath, [cli, "shell"], {
      cwd: tempDir(),
      input: "echo hi\nexit 3\n",
      env: { ...process.env, ...shellEnv },
      timeout: bootTimeout
    })
    process.stderr.write(`shell with a pipe: ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
    assert.strictEqual(result.status, 3, explain(result))
    assert.strictEqual(result.stdout.toString(), "hi\n")
  }, bootTimeout)

  it.skipIf(!hasPython)(
    "on a terminal: the host's size and its change, ^C to the guest's program, ^Z, jobs and fg, exit 5; the terminal as it was",
    () => {
      const dir = tempDir()
      const steps: ReadonlyArray<Step> = [
        ...ready,
        // The working directory is the host's, shared read-write: the guest's files show on the host.
        { send: "trap 'echo winch $(stty size)' WINCH; echo size-$(stty size | tr ' ' x) in $PWD\r" },
        { expect: `size-33x101 in ${dir}` },
        // The kernel signals the shell (the foreground group) when the guest's terminal takes the new size.
        { resize: [40, 120] },
        { expect: "winch 40 120" },
        { send: "sh -c 'echo > interrupting; exec sleep 100'\r" },
        { waitFile: join(dir, "interrupting") },
        { send: "\x03" },
        { send: "echo status-$?\r" },
        { expect: "status-130" },
        // The job waits for the host's word after ^Z and fg, then says it runs again: by then fg has given it the
        // terminal, so what is typed next is its input, not the shell's.
        {
          send:
            "sh -c 'echo > stopping; until [ -e resume ]; do sleep 0.1; done; echo > resumed; read line; echo got-$line'\r"
        },
        { waitFile: join(dir, "stopping") },
        { send: "\x1a" },
        { expect: "Stopped" },
        { send: "jobs\r" },
        { expect: "\\[1\\]\\+ +Stopped" },
        { send: "fg\r" },
        { touch: join(dir, "resume") },
        { waitFile: join(dir, "resumed") },
        { send: "hello\r" },
        { expect: "got-hello" },
        { send: "exit 5\r" }
      ]
      const run = session(dir, steps, { size: [33, 101] })
      assert.strictEqual(run.failedStep, null, explainSession(run, steps))
      assert.strictEqual(run.exitCode, 5, explainSession(run, steps))
      assert.strictEqual(run.sttyAfter, run.sttyBefore, "stty -g of the terminal after the run is as before")
    },
    bootTimeout
  )

  const waysOut: ReadonlyArray<
    readonly [string, ReadonlyArray<string>, ReadonlyArray<Step>, number]
  > = [
    ["a panic of the guest", [], [{ send: "echo c > /proc/sysrq-trigger\r" }], 122],
    // Long enough for the shell to come up under a loaded TCG, short enough not to idle the suite.
    ["a timeout", ["--timeout", "20s"], [], 124],
    ["SIGTERM to the runner", [], [{ signal: "SIGTERM" }], 143],
    ["SIGINT to the runner", [], [{ signal: "SIGINT" }], 130],
    ["SIGHUP to the runner", [], [{ signal: "SIGHUP" }], 129]
  ]
  for (const [name, flags, end, code] of waysOut) {
    it.skipIf(!hasPython)(`gives the terminal back as it was after ${name}, exit ${code}`, () => {
      const steps = [...ready, ...end]
      const run = session(tempDir(), steps, { flags })
      assert.strictEqual(run.failedStep, null, explainSession(run, steps))
      assert.strictEqual(run.exitCode, code, explainSession(run, steps))
      assert.strictEqual(run.sttyAfter, run.sttyBefore, "stty -g of the terminal after the run is as before")
    }, bootTimeout)
  }
})
