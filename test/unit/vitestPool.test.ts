// The vitest pool's configuration helpers (src/vitest.ts), and a pool whose
// VM never comes up; the pool's VMs are tested in the VM tier
// (test/vm/vitestPool.test.ts, test/vm/kernelMatrix.test.ts).
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { kernelProjects, poolName } from "../../src/vitest.ts"

const fixture = join(import.meta.dirname, "../fixtures/vitest-pool")
const vitestBin = join(import.meta.dirname, "../../node_modules/vitest/vitest.mjs")

describe("kernelProjects", () => {
  it("makes a project per kernel, named for it, with the same files and a pool of that kernel", () => {
    const projects = kernelProjects(["6.1", "6.12"], { name: "kernel", include: ["test/kernel/**"], isolate: false })
    assert.deepStrictEqual(projects.map((project) => project.test?.name), ["kernel 6.1", "kernel 6.12"])
    for (const project of projects) {
      assert.deepStrictEqual(project.test?.include, ["test/kernel/**"])
      assert.isFalse(project.test?.isolate)
      const pool = project.test?.pool
      assert.isObject(pool)
      assert.strictEqual((pool as { readonly name: string }).name, poolName)
    }
    assert.notStrictEqual(projects[0]!.test?.pool, projects[1]!.test?.pool, "each kernel has a pool of its own")
  })
})

describe("a pool whose VM does not come up", () => {
  it("fails the file with the runner's reason, and vitest ends its run", async () => {
    const run = await new Promise<{ readonly code: number | null; readonly output: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [vitestBin, "run", "--config", "vitest.refused.config.ts", "--color=false"],
        { cwd: fixture, env: { ...process.env, NO_COLOR: "1" } },
        (_error, stdout, stderr) => resolve({ code: child.exitCode, output: stdout + stderr })
      )
    })
    assert.strictEqual(run.code, 1, run.output)
    assert.include(run.output, "effect-sysinit: --memory: \"abc\"", run.output)
    assert.include(
      run.output,
      "effect-sysinit/vitest: the VM ended before vitest's worker started (runner exit code 120); see its output above"
    )
    assert.match(run.output, /Errors\s+1 error/)
    assert.notInclude(run.output, "Unhandled 'error' event")
  }, 60_000)
})
