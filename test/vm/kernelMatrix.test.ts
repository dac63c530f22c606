// The same test file on two kernels through the vitest pool: the fixture's
// vitest.matrix.config.ts makes a project per kernel (kernelProjects of
// src/vitest.ts), 6.1 and 6.12, each fetched once into the cache by name.
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { bootTimeout, hasQemu } from "./harness.ts"

const fixture = join(import.meta.dirname, "../fixtures/vitest-pool")
const vitestBin = join(import.meta.dirname, "../../node_modules/vitest/vitest.mjs")

interface JsonReport {
  readonly testResults: ReadonlyArray<{
    readonly name: string
    readonly status: string
    readonly assertionResults: ReadonlyArray<{ readonly title: string; readonly status: string }>
  }>
}

/** Runs vitest on the fixture's matrix config; its stderr. */
const runMatrix = (args: ReadonlyArray<string>) =>
  new Promise<string>((resolve) =>
    execFile(
      process.execPath,
      [vitestBin, "run", "--config", "vitest.matrix.config.ts", ...args],
      { cwd: fixture, maxBuffer: 64 * 1024 * 1024 },
      (_error, _stdout, stderr) => resolve(stderr)
    )
  )

describe.skipIf(!hasQemu)("a kernel matrix through the pool", () => {
  it("runs one file on 6.1 and on 6.12, a project each, and it passes on both", async () => {
    const directory = mkdtempSync(join(tmpdir(), "kernel-matrix-report-"))
    const output = join(directory, "report.json")
    try {
      // A first run of a kernel fetches it, builds its image and saves its machine: on a cold cache under TCG that
      // can outlast vitest's fixed start timeouts (90 s to start a worker, 60 s for it to answer). One run fills the
      // caches whatever vitest makes of it; the run below is the one judged.
      await runMatrix([])
      const stderr = await runMatrix(["--reporter=json", `--outputFile=${output}`])
      const report = JSON.parse(readFileSync(output, "utf8")) as JsonReport
      const results = report.testResults.filter((file) => file.name.endsWith("matrix/release.test.ts"))
      assert.lengthOf(results, 2, stderr)
      const titles = results.flatMap((file) => file.assertionResults.map((test) => `${test.title}: ${test.status}`))
        .toSorted()
      assert.lengthOf(titles, 2, stderr)
      assert.match(titles[0]!, /^runs on the kernel its project names: 6\.1 \(6\.1\.\d+-\d+-amd64\): passed$/, stderr)
      assert.match(titles[1]!, /^runs on the kernel its project names: 6\.12 \(6\.12\.\S+-amd64\): passed$/, stderr)
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  }, bootTimeout)
})
