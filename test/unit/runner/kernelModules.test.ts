/**
 * Modules from a kernel's module tree with what they need, on a tree made
 * here: modules.order lists the files, modules.builtin the built-in ones.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { dirname, join } from "node:path"
import * as KernelModules from "../../../src/runner/kernel/KernelModules.ts"
import { gzip, module } from "../moduleFiles.ts"

/** A tree: virtio_console needs virtio (built in) and virtio_ring; virtio_ring needs its_helper (gzip). */
const tree = (options: { readonly order: boolean }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = yield* fs.makeTempDirectoryScoped()
    const files: ReadonlyArray<readonly [string, Uint8Array]> = [
      ["kernel/drivers/char/virtio_console.ko", module("virtio_console", ["virtio", "virtio_ring"])],
      ["kernel/drivers/virtio/virtio_ring.ko", module("virtio_ring", ["its-helper"])],
      ["kernel/lib/its-helper.ko.gz", gzip(module("its_helper"))],
      ["kernel/drivers/net/dummy.ko", module("dummy")],
      ["kernel/drivers/net/needs_absent.ko", module("needs_absent", ["absent"])]
    ]
    for (const [file, bytes] of files) {
      yield* fs.makeDirectory(dirname(join(root, file)), { recursive: true })
      yield* fs.writeFile(join(root, file), bytes)
    }
    if (options.order) {
      yield* fs.writeFileString(
        join(root, "modules.order"),
        files.map(([file]) => file.replace(/\.gz$/, "")).join("\n")
      )
    }
    yield* fs.writeFileString(join(root, "modules.builtin"), "kernel/drivers/virtio/virtio.ko\n")
    return root
  })

describe("KernelModules.closure", () => {
  for (const order of [true, false]) {
    it.effect(`finds a module and what it needs, needed ones first, built-in ones left out (${order ? "modules.order" : "no modules.order"})`, () =>
      Effect.gen(function*() {
        const root = yield* tree({ order })
        const files = yield* KernelModules.closure(root, ["virtio_console", "dummy"])
        assert.deepStrictEqual(files.map((file) => file.slice(root.length + 1)), [
          "kernel/lib/its-helper.ko.gz",
          "kernel/drivers/virtio/virtio_ring.ko",
          "kernel/drivers/char/virtio_console.ko",
          "kernel/drivers/net/dummy.ko"
        ])
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
  }

  it.effect("needs nothing for no modules, and nothing for a built-in one", () =>
    Effect.gen(function*() {
      const root = yield* tree({ order: true })
      assert.deepStrictEqual(yield* KernelModules.closure(root, []), [])
      assert.deepStrictEqual(yield* KernelModules.closure(root, ["virtio"]), [])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("names a module that is neither in the tree nor built in, and the one that needs it", () =>
    Effect.gen(function*() {
      const root = yield* tree({ order: true })
      const error = yield* Effect.flip(KernelModules.closure(root, ["needs_absent"]))
      assert.instanceOf(error, KernelModules.ModuleNotInTree)
      assert.strictEqual(
        error.message,
        `module absent (needed by needs_absent) is neither in ${root} nor built into its kernel`
      )
      const asked = yield* Effect.flip(KernelModules.closure(root, ["nowhere"]))
      assert.include(asked.message, "module nowhere is neither")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
