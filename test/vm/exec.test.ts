/**
 * The VM tier of `effect-sysinit exec`: the CLI as users run it, each test
 * one run (or two) under TCG with the built-in init, restored from the
 * machine that the first run of each layout of consoles and shares saves.
 * Checks that need one layout share one run. vitest itself in a VM is the
 * pool's (vitestPool.test.ts: exec with --host-root and shares, per worker).
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { bootTimeout, hasQemu, hasTool, withoutProgress } from "./harness.ts"

const repo = join(import.meta.dirname, "../..")
const cli = join(repo, "bin/effect-sysinit")
const fixtures = join(repo, "test/fixtures")

const run = (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {}
): SpawnSyncReturns<Buffer> => {
  const started = Date.now()
  const result = spawnSync(process.execPath, [cli, "exec", ...args], {
    cwd: options.cwd ?? repo,
    env: { ...process.env, ...options.env },
    timeout: bootTimeout
  })
  process.stderr.write(`exec ${args.slice(0, 4).join(" ")}…: ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  return result
}

const explain = (result: SpawnSyncReturns<Buffer>) => `status ${result.status}, stderr:\n${result.stderr.toString()}`

const tempDir = () => fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-exec-test-"))

const hasGo = hasTool("go") || spawnSync("go", ["version"]).status === 0
if (hasQemu && !hasGo) {
  if (process.env["CI"] !== undefined) throw new Error("go is missing in CI: scripts/install-go.sh installs golang-go")
  console.warn("\n!!! GO TEST -EXEC TESTS SKIPPED: go is not installed (apt-get install golang-go; CI does).\n")
}

describe.skipIf(!hasQemu)("effect-sysinit exec", () => {
  it(
    "runs a dynamic ELF of the host with its arguments byte-exact, stderr apart, and passes exit code 42 through",
    () => {
      const args = ["with space", `quotes "double" 'single'`, "ünïcødé ✓", "", "-test.v=true", "--memory"]
      const result = run(["/bin/sh", "-c", `printf '%s\\0' "$@"; echo to-stderr >&2; exit 42`, "sh", ...args])
      assert.strictEqual(result.status, 42, explain(result))
      assert.deepStrictEqual(result.stdout.toString("utf8").split("\0").slice(0, -1), args)
      assert.strictEqual(withoutProgress(result.stderr.toString()), "to-stderr\n")
    },
    bootTimeout
  )

  it("runs a #! shell script and passes exit code 255 through", () => {
    const dir = tempDir()
    const script = join(dir, "script.sh")
    fs.writeFileSync(script, "#!/bin/sh\necho \"script in $(pwd): $*\"\nexit 255\n", { mode: 0o755 })
    const result = run([script, "a b"])
    assert.strictEqual(result.status, 255, explain(result))
    assert.strictEqual(result.stdout.toString(), "script in /: a b\n")
  }, bootTimeout)

  it("reports a program killed by SIGKILL as killed, naming the signal, with no exit code", () => {
    const result = run(["/bin/sh", "-c", "kill -KILL $$"])
    assert.strictEqual(result.status, 121, explain(result))
    assert.include(result.stderr.toString(), "was killed by SIGKILL")
    assert.include(result.stderr.toString(), "no exit code found")
  }, bootTimeout)

  it(
    "a node script over virtio consoles with shares: stdout, stderr and two output files apart; the guest's write appears on the host, a :ro share refuses with EROFS; exit code 3",
    () => {
      const writable = tempDir()
      const readOnly = tempDir()
      const outputs = tempDir()
      fs.writeFileSync(join(readOnly, "given"), "from the host")
      const script = join(writable, "shares.mjs")
      fs.writeFileSync(
        script,
        `import * as fs from "node:fs"
fs.writeFileSync(${JSON.stringify(join(writable, "written"))}, "from the guest " + process.cwd())
let code = "none"
try { fs.writeFileSync("/ro/refused", "x") } catch (error) { code = error.code }
console.log(code, fs.readFileSync("/ro/given", "utf8"))
console.error("err")
fs.writeFileSync("/dev/virtrun3", "A\\n")
fs.writeFileSync("/dev/virtrun4", "B\\n")
process.exitCode = 3
`
      )
      const result = run([
        "--transport",
        "virtio",
        "--output",
        join(outputs, "a"),
        "--output",
        join(outputs, "b"),
        "--share",
        writable,
        "--share",
        `${readOnly}:/ro:ro`,
        script
      ], { cwd: writable })
      assert.strictEqual(result.status, 3, explain(result))
      assert.strictEqual(result.stdout.toString(), "EROFS from the host\n")
      assert.strictEqual(withoutProgress(result.stderr.toString()), "err\n")
      assert.strictEqual(fs.readFileSync(join(outputs, "a"), "utf8"), "A\n")
      assert.strictEqual(fs.readFileSync(join(outputs, "b"), "utf8"), "B\n")
      assert.strictEqual(fs.readFileSync(join(writable, "written"), "utf8"), `from the guest ${writable}`)
      assert.isFalse(fs.existsSync(join(readOnly, "refused")))
    },
    bootTimeout
  )

  it("with --host-root finds the host's own programs, with a fresh /tmp and a read-only /usr", () => {
    const result = run(["--host-root", "--", "sh", "-c", "command -v go sh; touch /tmp/ok && ls /tmp; touch /usr/x"])
    assert.strictEqual(result.status, 1, explain(result))
    const found = spawnSync("sh", ["-c", "command -v go sh"]).stdout.toString()
    assert.strictEqual(result.stdout.toString(), `${found}ok\n`)
    assert.include(result.stderr.toString(), "Read-only file system")
  }, bootTimeout)

  it.skipIf(!hasGo)(
    "go test -exec: passes (ok, a test that mounts as root, coverage on the host), fails (FAIL, 1)",
    () => {
      const dir = tempDir()
      const cover = join(dir, "cover.out")
      const exec = `${process.execPath} ${cli} exec`
      const go = (args: ReadonlyArray<string>) =>
        spawnSync("go", ["test", "-exec", exec, ...args], {
          cwd: join(fixtures, "gotest"),
          env: { ...process.env, GOFLAGS: "-count=1", GOCACHE: join(dir, "gocache") },
          timeout: bootTimeout
        })
      const passing = go(["-v", `-coverprofile=${cover}`, "./pass/"])
      assert.strictEqual(passing.status, 0, passing.stdout.toString() + passing.stderr.toString())
      assert.match(passing.stdout.toString(), /--- PASS: TestMountTmpfs/)
      assert.match(passing.stdout.toString(), /^ok\s+example\.com\/gotest\/pass/m)
      assert.match(fs.readFileSync(cover, "utf8"), /^mode: set\nexample\.com\/gotest\/pass\/add\.go:/)
      const failing = go(["./fail/"])
      assert.strictEqual(failing.status, 1, failing.stdout.toString() + failing.stderr.toString())
      assert.match(failing.stdout.toString(), /^FAIL\s+example\.com\/gotest\/fail/m)
    },
    2 * bootTimeout
  )
})
