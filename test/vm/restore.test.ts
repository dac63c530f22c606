/**
 * `exec` from a saved machine, as users run it: the first run boots the
 * built-in init to its ready point and saves the machine, later runs
 * restore it. Each run must be a fresh machine (its own randomness, the
 * host's time, nothing left of another run) and end as a cold run ends.
 * The runs use a cache directory of their own, with the cached kernel
 * given by path. Two first runs at once keeping one machine is
 * firstRuns.test.ts's (three at once); the bookkeeping around a restore
 * (resending the run, the fall back when saving fails) is the unit tier's,
 * against a fake QEMU (test/unit/runner/execWithFakeQemu.test.ts).
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { bootTimeout, hasQemu } from "./harness.ts"

const repo = join(import.meta.dirname, "../..")
const cli = join(repo, "bin/effect-sysinit")
const kernelCache = join(process.env["SYSINIT_CACHE_DIR"] ?? join(os.homedir(), ".cache/effect-sysinit"), "kernel")

const cacheDir = () => fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-restore-test-"))

/** The flags that give the runs the cached kernel while their own cache starts empty. */
const kernelFlags = (): ReadonlyArray<string> => {
  const release = fs.readFileSync(join(kernelCache, "release"), "utf8").trim()
  const image = fs.existsSync(join(kernelCache, "vmlinux")) ? "vmlinux" : "vmlinuz"
  return ["--kernel", join(kernelCache, image), "--kernel-modules", join(kernelCache, "modules", release)]
}

const exec = (cache: string, args: ReadonlyArray<string>): SpawnSyncReturns<string> =>
  spawnSync(process.execPath, [cli, "exec", "--verbose", ...kernelFlags(), ...args], {
    env: { ...process.env, SYSINIT_CACHE_DIR: cache },
    encoding: "utf8",
    timeout: bootTimeout
  })

const explain = (run: SpawnSyncReturns<string>) => `status ${run.status}, stderr:\n${run.stderr}`

// What a program sees of its machine: the kernel's randomness, Node's, the time, what /tmp holds (then it leaves a file there).
const freshness = `import * as fs from "node:fs"
import * as crypto from "node:crypto"
const fd = fs.openSync("/dev/urandom", "r"); const bytes = Buffer.alloc(16); fs.readSync(fd, bytes); fs.closeSync(fd)
const tmp = fs.readdirSync("/tmp")
fs.writeFileSync("/tmp/left-by-a-run", "x")
console.log(JSON.stringify({ urandom: bytes.toString("hex"), uuid: crypto.randomUUID(), random: Math.random(), now: Date.now(), tmp }))
`

describe.skipIf(!hasQemu)("exec from a saved machine", () => {
  const cache = cacheDir()
  const dir = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-restore-program-"))
  const program = join(dir, "freshness.mjs")
  fs.writeFileSync(program, freshness)

  it(
    "saves the machine at the first run and restores it at the next; each run is a fresh machine on the host's clock",
    () => {
      const first = exec(cache, [program])
      assert.strictEqual(first.status, 0, explain(first))
      assert.include(first.stderr, "saved the machine at its ready point")
      const before = Date.now()
      const second = exec(cache, [program])
      const after = Date.now()
      assert.strictEqual(second.status, 0, explain(second))
      assert.include(second.stderr, "restored the saved machine")
      assert.notInclude(second.stderr, "saved the machine at its ready point")
      const [a, b] = [first, second].map((run) => JSON.parse(run.stdout) as Record<string, unknown>)
      for (const seen of [a!, b!]) {
        assert.deepStrictEqual(seen["tmp"], [], "/tmp holds nothing of another run")
      }
      assert.isAtLeast(b!["now"] as number, before - 2000, "the restored clock is the host's")
      assert.isAtMost(b!["now"] as number, after + 2000, "the restored clock is the host's")
      assert.notStrictEqual(a!["urandom"], b!["urandom"], "the kernel's randomness differs")
      assert.notStrictEqual(a!["uuid"], b!["uuid"], "crypto.randomUUID differs")
      assert.notStrictEqual(a!["random"], b!["random"], "Math.random differs")
    },
    2 * bootTimeout
  )

  // Each ending of a restored run, as a cold run ends: the status and reason each console 0 line gives are the unit
  // tier's (test/unit/runner), the same endings of cold boots are vm.test.ts's (the timeout), failures.test.ts's
  // (out of memory) and the namespace tier's (SIGTERM to PID 1); an exit code and SIGKILL of a restored program are
  // exec.test.ts's.
  const endings: ReadonlyArray<readonly [string, ReadonlyArray<string>, number, RegExp]> = [
    ["the timeout", ["--timeout", "3", "/bin/sh", "-c", "while :; do :; done"], 124, /guest timed out after 3s/],
    ["SIGTERM to PID 1", ["/bin/sh", "-c", "kill -TERM 1; while :; do :; done"], 143, /SIGTERM.*exit code 143/],
    ["a kernel panic", ["/bin/sh", "-c", "echo c > /proc/sysrq-trigger"], 122, /kernel panic/],
    [
      "the OOM killer",
      ["/usr/bin/node", "-e", "const kept = []; for (;;) kept.push(Buffer.alloc(1 << 20, 1))"],
      123,
      /out of memory/
    ]
  ]
  for (const [name, args, status, says] of endings) {
    it(`ends as a cold run ends: ${name}`, () => {
      const restored = exec(cache, args)
      assert.include(restored.stderr, "restored the saved machine")
      assert.strictEqual(restored.status, status, explain(restored))
      assert.match(restored.stderr, says)
    }, bootTimeout)
  }

  it("a saved machine that does not restore is removed, and the run boots cold and says why", () => {
    const machines = join(cache, "machines")
    const [key] = fs.readdirSync(machines).filter((name) => !name.includes("."))
    assert.isDefined(key)
    // A state the cache takes for the one saved, which QEMU cannot load.
    const state = join(machines, key!, "state")
    fs.writeFileSync(state, "not a state")
    const record = JSON.parse(fs.readFileSync(join(machines, key!, "entry.json"), "utf8")) as Record<string, unknown>
    const hash = spawnSync("sha256sum", [state], { encoding: "utf8" }).stdout.split(" ")[0]
    fs.writeFileSync(join(machines, key!, "entry.json"), JSON.stringify({ ...record, stateSha256: hash }))
    const run = exec(cache, ["/bin/sh", "-c", "exit 7"])
    assert.strictEqual(run.status, 7, explain(run))
    assert.include(run.stderr, `the saved machine ${key} did not restore`)
  }, 2 * bootTimeout)
})
