// The vitest pool's configuration helpers (src/vitest.ts); the pool itself
// runs VMs and is tested in the VM tier (test/vm/vitestPool.test.ts,
// test/vm/kernelMatrix.test.ts).
import { assert, describe, it } from "@effect/vitest"
import { kernelProjects, poolName } from "../../src/vitest.ts"

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
