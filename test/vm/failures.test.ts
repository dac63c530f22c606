/**
 * What the runner shows when the guest fails, as a user runs it (the CLI,
 * without --verbose): each failure says why on stderr, with the runner's
 * exit code for it. A failing step (its error line, exit 121) is the unit
 * tier's: the init on the memory machine (test/unit/sysinit.test.ts), the
 * CLI on a fake QEMU's console 0 (test/unit/runner/cliWithFakeQemu.test.ts).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { join } from "node:path"
import { exitCodes } from "../../src/runner/exitCodes.ts"
import * as Kernel from "../../src/runner/kernel/Kernel.ts"
import { boot, bootTimeout, hasQemu, inits } from "./harness.ts"

const bin = join(import.meta.dirname, "../../bin/effect-sysinit")
const failing = join(inits, "failing.ts")

// The host's colour choices are the user's; these tests run as a CI job with neither.
const { FORCE_COLOR: _force, NO_COLOR: _no, ...hostEnv } = process.env

const cli = (args: ReadonlyArray<string>) => {
  const result = spawnSync(process.execPath, [bin, "vm", "--timeout", "280", ...args], {
    encoding: "utf8",
    timeout: bootTimeout,
    env: hostEnv
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Where failing.ts throws at its top level: `path:line:`. */
const throwLocation = () => {
  const lines = fs.readFileSync(failing, "utf8").split("\n")
  return `${failing}:${lines.findIndex((line) => line.includes("thrown at the top level")) + 1}:`
}

describe.skipIf(!hasQemu)("what the runner shows of a failing guest", () => {
  it(
    "says the init threw before Sysinit.run, with the stack at the init's own file and line, not a kernel panic",
    () => {
      const run = cli([failing, "--", "throw before run"])
      assert.strictEqual(run.status, exitCodes.NoExitCode, run.stderr)
      assert.include(run.stderr, "effect-sysinit: the init threw before Sysinit.run: Error: thrown at the top level")
      assert.include(run.stderr, throwLocation())
      assert.notInclude(run.stderr, "Kernel panic")
      assert.notInclude(run.stderr, "\u001b[")
    },
    bootTimeout
  )

  it.live("maps the stack of a throw before Sysinit.run in the code-cache start-up too", () =>
    Effect.gen(function*() {
      const run = yield* boot("failing.ts", { args: ["throw before run"], startup: "compile-cache" })
      assert.strictEqual(run.outcome._tag, "InitThrew")
      assert.include(run.outcome._tag === "InitThrew" ? run.outcome.error : "", throwLocation())
    }).pipe(Effect.provide(NodeServices.layer)), bootTimeout)

  it("says the init returned without calling Sysinit.run", () => {
    const run = cli([failing, "--", "no run"])
    assert.strictEqual(run.status, exitCodes.NoExitCode, run.stderr)
    assert.include(run.stderr, "effect-sysinit: the init returned without calling Sysinit.run")
  }, bootTimeout)

  it("reports PID 1 out of memory as out of memory (123), not a kernel panic", () => {
    const run = cli(["--memory", "512", failing, "--", "out of memory"])
    assert.strictEqual(run.status, exitCodes.OutOfMemory, run.stderr)
    assert.include(run.stderr, "effect-sysinit: guest error: out of memory")
    assert.include(run.stderr, "--memory")
  }, bootTimeout)

  it.effect(
    "says why nothing came when the guest had no console: virtio without its modules",
    () =>
      Effect.gen(function*() {
        // The cached kernel by another path: the runner knows no modules tree for it, so it adds no virtio modules.
        const fileSystem = yield* FileSystem.FileSystem
        const kernel = join(yield* fileSystem.makeTempDirectoryScoped(), "vmlinux")
        fs.symlinkSync(yield* Kernel.resolve(undefined), kernel)
        const run = cli(["--transport", "virtio", "--kernel", kernel, failing, "--", "colours"])
        assert.strictEqual(run.status, exitCodes.NoExitCode, run.stderr)
        assert.include(
          run.stderr,
          "guest error: no exit code found: console 0 stayed empty, the guest had no console (its kernel needs the virtio modules)"
        )
      }).pipe(Effect.provide(NodeServices.layer)),
    bootTimeout
  )
})
