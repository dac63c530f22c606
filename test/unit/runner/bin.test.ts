/**
 * The `effect-sysinit` command as a user runs it: what it exits with and
 * says on stderr for input it refuses, all before any boot (no QEMU, no
 * kernel needed).
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { exitCodes } from "../../../src/runner/exitCodes.ts"

const bin = join(import.meta.dirname, "../../../bin/effect-sysinit")
const hello = join(import.meta.dirname, "../../../examples/hello.ts")

const run = (args: ReadonlyArray<string>, nodeOptions: ReadonlyArray<string> = []) => {
  const result = spawnSync(process.execPath, [...nodeOptions, bin, ...args], { encoding: "utf8", timeout: 120_000 })
  return { status: result.status, stderr: result.stderr, stdout: result.stdout }
}

const timeout = 120_000

describe("the effect-sysinit command", () => {
  const usageErrors: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
    ["an unknown flag", ["vm", "--bogus", hello], "--bogus: not a flag of effect-sysinit vm"],
    ["no INIT", ["vm"], "missing <init>"],
    ["--memory abc", ["vm", "--memory", "abc", hello], "--memory"],
    [
      "three --output on serial",
      ["vm", "--output", "a", "--output", "b", "--output", "c", hello],
      "the serial transport has 4; use --transport virtio (up to 6 --output and --input)"
    ],
    [
      "--kernel that is not one",
      ["vm", "--kernel", "/etc/passwd", hello],
      "--kernel: /etc/passwd is not a kernel image"
    ]
  ]
  for (const [name, args, says] of usageErrors) {
    it(`exits with the usage error code ${exitCodes.UsageError}, not a guest's, on ${name}`, () => {
      const result = run(args)
      assert.strictEqual(result.status, exitCodes.UsageError, result.stderr)
      assert.include(result.stderr, says)
    }, timeout)
  }

  it("says it needs Node 24 under an older node, before loading anything", () => {
    const older =
      `data:text/javascript,Object.defineProperty(process, "versions", { value: { ...process.versions, node: "20.18.0" } })`
    const result = run(["vm", hello], ["--import", older])
    assert.strictEqual(result.status, exitCodes.RunnerFailed)
    assert.include(result.stderr, "effect-sysinit: needs Node 24 or later, this is Node 20.18.0")
  }, timeout)

  it("bundle --out-dir makes the directory when it does not exist", () => {
    const dir = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-test-"))
    try {
      const out = join(dir, "new", "out")
      const result = run(["bundle", "--out-dir", out, hello])
      assert.strictEqual(result.status, 0, result.stderr)
      assert.isTrue(fs.existsSync(join(out, "init.mjs")))
      assert.include(result.stdout, join(out, "init.mjs"))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, timeout)
})
