/**
 * The VM tier of `effect-sysinit exec`: the CLI as users run it, each test
 * one boot (or two) under TCG with the built-in init.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { dirname, join } from "node:path"
import { stripVTControlCharacters } from "node:util"
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

// The summary's last "Tests N passed" (a progress line may come before it), without terminal escapes.
const passed = (output: string) => [...stripVTControlCharacters(output).matchAll(/Tests\s+(\d+) passed/g)].at(-1)?.[1]

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

  it("runs a node script with the guest's node, exit 0", () => {
    const dir = tempDir()
    const script = join(dir, "hello.mjs")
    fs.writeFileSync(script, "console.log(`node ${process.version} says ${process.argv.slice(2).join(' ')}`)\n")
    const result = run([script, "hi", "there"])
    assert.strictEqual(result.status, 0, explain(result))
    assert.match(result.stdout.toString(), /^node v24\.\d+\.\d+ says hi there\n$/)
  }, bootTimeout)

  it("over virtio consoles (modules added by the runner): stdout, stderr and two output files apart", () => {
    const dir = tempDir()
    const result = run([
      "--transport",
      "virtio",
      "--output",
      join(dir, "a"),
      "--output",
      join(dir, "b"),
      "/bin/sh",
      "-c",
      "echo out; echo err >&2; echo A > /dev/virtrun3; echo B > /dev/virtrun4; exit 3"
    ])
    assert.strictEqual(result.status, 3, explain(result))
    assert.strictEqual(result.stdout.toString(), "out\n")
    assert.strictEqual(withoutProgress(result.stderr.toString()), "err\n")
    assert.strictEqual(fs.readFileSync(join(dir, "a"), "utf8"), "A\n")
    assert.strictEqual(fs.readFileSync(join(dir, "b"), "utf8"), "B\n")
  }, bootTimeout)

  it("reports a program killed by SIGKILL as killed, naming the signal, with no exit code", () => {
    const result = run(["/bin/sh", "-c", "kill -KILL $$"])
    assert.strictEqual(result.status, 121, explain(result))
    assert.include(result.stderr.toString(), "was killed by SIGKILL")
    assert.include(result.stderr.toString(), "no exit code found")
  }, bootTimeout)

  it("shares directories: the guest's write appears on the host, a :ro share refuses with EROFS", () => {
    const writable = tempDir()
    const readOnly = tempDir()
    fs.writeFileSync(join(readOnly, "given"), "from the host")
    const script = join(writable, "shares.mjs")
    fs.writeFileSync(
      script,
      `import * as fs from "node:fs"
fs.writeFileSync(${JSON.stringify(join(writable, "written"))}, "from the guest " + process.cwd())
let code = "none"
try { fs.writeFileSync("/ro/refused", "x") } catch (error) { code = error.code }
console.log(code, fs.readFileSync("/ro/given", "utf8"))
`
    )
    const result = run(["--share", writable, "--share", `${readOnly}:/ro:ro`, script], { cwd: writable })
    assert.strictEqual(result.status, 0, explain(result))
    assert.strictEqual(result.stdout.toString(), "EROFS from the host\n")
    assert.strictEqual(fs.readFileSync(join(writable, "written"), "utf8"), `from the guest ${writable}`)
    assert.isFalse(fs.existsSync(join(readOnly, "refused")))
  }, bootTimeout)

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

  it("eats its own cooking: unit tests run with vitest in the VM pass as many as on the host", () => {
    const files = ["test/unit/runner/goTest.test.ts", "test/unit/runner/execArgs.test.ts", "test/unit/exec.test.ts"]
    const vitest = join(repo, "node_modules/.bin/vitest")
    const onHost = spawnSync(vitest, ["run", ...files], { cwd: repo, env: { ...process.env, NO_COLOR: "1" } })
    const hostPassed = passed(onHost.stdout.toString())
    assert.isDefined(hostPassed, onHost.stdout.toString())
    // node_modules may be a link out of the repository (a git worktree's): share its target too.
    const modules = fs.realpathSync(join(repo, "node_modules"))
    const shares = modules.startsWith(`${repo}/`) ? [] : ["--share", modules]
    const nodeDir = dirname(fs.realpathSync(process.execPath))
    const nodeShares = nodeDir.startsWith(`${repo}/`) || nodeDir.startsWith(`${modules}/`)
      ? []
      : ["--share", `${nodeDir}:ro`]
    const result = run(
      ["--host-root", "--memory", "2048", "--share", repo, ...shares, ...nodeShares, "--", vitest, "run", ...files],
      { env: { PATH: `${nodeDir}:${process.env["PATH"]}` } }
    )
    assert.strictEqual(result.status, 0, explain(result) + result.stdout.toString())
    assert.strictEqual(passed(result.stdout.toString()), hostPassed, result.stdout.toString())
  }, bootTimeout)
})
