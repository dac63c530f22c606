/**
 * The `effect-sysinit` command as a user runs it, through
 * `bin/effect-sysinit` in a process of its own: the process exits with the
 * code the command set (a refused command line: 120, two lines on stderr,
 * nothing on stdout; the help: 0), and says which node it needs under an
 * older one, before loading anything. Each kind of refusal, the help and
 * the commands themselves are checked in process (cliRefusals.test.ts,
 * cliWithFakeQemu.test.ts, execWithFakeQemu.test.ts, shellCommand.test.ts,
 * cliMain.test.ts), where the unit tier's coverage measures them.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { exitCodes } from "../../../src/runner/exitCodes.ts"

const bin = join(import.meta.dirname, "../../../bin/effect-sysinit")
const hello = join(import.meta.dirname, "../../../examples/hello.ts")

const run = (args: ReadonlyArray<string>, nodeOptions: ReadonlyArray<string> = []) => {
  const result = spawnSync(process.execPath, [...nodeOptions, bin, ...args], { encoding: "utf8", timeout: 120_000 })
  return { status: result.status, stderr: result.stderr, stdout: result.stdout }
}

const timeout = 120_000

describe("bin/effect-sysinit", () => {
  it("exits 120 on a command line it refuses, saying what is wrong and where the help is on stderr", () => {
    const result = run(["vm", "--memory", "abc", hello])
    assert.strictEqual(result.status, exitCodes.UsageError, result.stderr)
    assert.strictEqual(result.stdout, "")
    assert.strictEqual(
      result.stderr,
      "effect-sysinit: --memory: \"abc\" is not a whole number of MiB above 0\n" +
        "effect-sysinit: see effect-sysinit vm --help\n"
    )
  }, timeout)

  it("prints the help on stdout and exits 0 on --help", () => {
    const result = run(["--help"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "effect-sysinit <subcommand>")
    assert.strictEqual(result.stderr, "")
  }, timeout)

  it("says it needs Node 24 under an older node, before loading anything", () => {
    const older =
      `data:text/javascript,Object.defineProperty(process, "versions", { value: { ...process.versions, node: "20.18.0" } })`
    const result = run(["vm", hello], ["--import", older])
    assert.strictEqual(result.status, exitCodes.RunnerFailed)
    assert.include(result.stderr, "effect-sysinit: needs Node 24 or later, this is Node 20.18.0")
  }, timeout)
})
