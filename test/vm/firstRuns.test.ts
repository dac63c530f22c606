/**
 * Runs that start together on an empty cache, as `go test ./...` or a
 * pool starts them: each must succeed, and the kernel is fetched once (the
 * others wait for it), with nothing half-made left in the cache.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { bootTimeout, hasQemu } from "./harness.ts"

const cli = join(import.meta.dirname, "../../bin/effect-sysinit")

interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

const exec = (cache: string, args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, "exec", ...args],
      { env: { ...process.env, SYSINIT_CACHE_DIR: cache }, encoding: "utf8", timeout: bootTimeout },
      (_error, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr })
    )
  })

describe.skipIf(!hasQemu)("first runs together", () => {
  it(
    "three exec /bin/true started at once on an empty cache all succeed, fetch the kernel once and keep one saved machine",
    async () => {
      const cache = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-first-runs-"))
      try {
        const runs = await Promise.all([1, 2, 3].map(() => exec(cache, ["/bin/true"])))
        for (const run of runs) assert.strictEqual(run.status, 0, run.stderr)
        const said = runs.flatMap((run) => run.stderr.split("\n"))
        assert.lengthOf(said.filter((line) => line.includes("kernel 6.1 for amd64: downloading")), 1, said.join("\n"))
        for (const line of said.filter((text) => text.includes("waiting for run"))) {
          assert.match(line, /^effect-sysinit: kernel 6\.1 for amd64: waiting for run \d+, which is fetching it$/)
        }
        assert.deepStrictEqual(fs.readdirSync(cache).filter((name) => name.startsWith(".")), [], "nothing half-made")
        assert.deepStrictEqual(fs.readdirSync(join(cache, "locks")), [], "no lock left")
        assert.strictEqual(fs.readFileSync(join(cache, "kernel", "release"), "utf8").trim().split("-")[0], "6.1.0")
        // Each booted and saved the same machine: the first rename won, one entry stays, whole.
        const machines = fs.readdirSync(join(cache, "machines")).filter((name) => !name.startsWith("."))
        assert.lengthOf(machines, 1, machines.join(", "))
        assert.isTrue(fs.existsSync(join(cache, "machines", machines[0]!, "entry.json")))
      } finally {
        fs.rmSync(cache, { recursive: true, force: true })
      }
    },
    bootTimeout
  )
})
