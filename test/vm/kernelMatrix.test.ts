// The same test file on two kernels through the vitest pool: the fixture's
// vitest.matrix.config.ts makes a project per kernel (kernelProjects of
// src/vitest.ts), 6.1 and 6.12, each fetched once into the cache by name.
// It is also the pool's first run on a cache of its own, two workers at once:
// each builds the image and saves its kernel's machine while vitest waits,
// and the workers' node fills the pool's compile cache in that cache.
import { execFile, execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { bootTimeout, hasQemu } from "./harness.ts"
import { fixture, type JsonReport, vitestBin } from "./vitestFixture.ts"

/** Runs vitest on the fixture's matrix config with a cache of its own; its stderr. */
const runMatrix = (cache: string, args: ReadonlyArray<string>) =>
  new Promise<string>((resolve) =>
    execFile(
      process.execPath,
      [vitestBin, "run", "--config", "vitest.matrix.config.ts", ...args],
      { cwd: fixture, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SYSINIT_CACHE_DIR: cache } },
      (_error, _stdout, stderr) => resolve(stderr)
    )
  )

/**
 * A new cache with the kernels the user's cache has already, as hard links:
 * the fetch of a kernel by runs at once is test/vm/firstRuns.test.ts's; here
 * the images and the saved machines are made from nothing.
 */
const newCache = (): string => {
  const cache = mkdtempSync(join(tmpdir(), "kernel-matrix-cache-"))
  const userCache = process.env["SYSINIT_CACHE_DIR"] ?? join(homedir(), ".cache", "effect-sysinit")
  for (const kernel of ["kernel", "kernel-6.12"]) {
    if (existsSync(join(userCache, kernel, "release"))) {
      execFileSync("cp", ["-al", join(userCache, kernel), join(cache, kernel)])
    }
  }
  return cache
}

describe.skipIf(!hasQemu)("a kernel matrix through the pool", () => {
  it("runs one file on 6.1 and on 6.12, a project each, and it passes on both", async () => {
    const cache = newCache()
    const output = join(cache, "report.json")
    try {
      const stderr = await runMatrix(cache, ["--reporter=json", `--outputFile=${output}`])
      const report = JSON.parse(readFileSync(output, "utf8")) as JsonReport
      const results = report.testResults.filter((file) => file.name.endsWith("matrix/release.test.ts"))
      assert.lengthOf(results, 2, stderr)
      const titles = results.flatMap((file) => file.assertionResults.map((test) => `${test.title}: ${test.status}`))
        .toSorted()
      assert.lengthOf(titles, 2, stderr)
      assert.match(titles[0]!, /^runs on the kernel its project names: 6\.1 \(6\.1\.\d+-\d+-amd64\): passed$/, stderr)
      assert.match(titles[1]!, /^runs on the kernel its project names: 6\.12 \(6\.12\.\S+-amd64\): passed$/, stderr)
      assert.lengthOf(readdirSync(join(cache, "machines")), 2, "a machine saved for each kernel")
      // The workers' node wrote its compile cache through the share, for the next VMs to read.
      const compiled = readdirSync(join(cache, "node-compile-cache"), { recursive: true })
      assert.isAbove(compiled.length, 10, compiled.join(", "))
    } finally {
      rmSync(cache, { recursive: true, force: true })
    }
  }, bootTimeout)
})
