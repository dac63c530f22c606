/**
 * The cached Debian kernel's files, read on the host without booting: they
 * need the kernel of the VM tier (fetched by `npm run setup`), not QEMU, and
 * are skipped without it.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { existsSync, readdirSync } from "node:fs"
import * as Elf from "../../src/formats/elf.ts"
import { ninePModules } from "../../src/protocol/execSpec.ts"
import * as Kernel from "../../src/runner/kernel/Kernel.ts"
import * as KernelModules from "../../src/runner/kernel/KernelModules.ts"

const cache = `${process.env["HOME"]}/.cache/effect-sysinit/kernel`
const modules = `${cache}/modules`
const vmlinux = `${cache}/vmlinux`

if (!existsSync(modules) || !existsSync(vmlinux)) {
  console.warn(
    `\n!!! CACHED KERNEL TESTS SKIPPED: no kernel in ${cache}.\n!!! Run \`npm run setup\` to fetch it; CI does.\n`
  )
}

describe("the cached kernel", () => {
  it.effect.skipIf(!existsSync(modules))("reads .modinfo of dummy.ko from the cached kernel", () => {
    const release = readdirSync(modules)[0]!
    return Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const read = Elf.fromFile(yield* fs.open(`${modules}/${release}/kernel/drivers/net/dummy.ko`))
      const info = Elf.parseModinfo((yield* Elf.readSection(read, ".modinfo"))!)
      assert.deepInclude(info, ["name", "dummy"])
      assert.deepInclude(info, ["depends", ""])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  })

  it.effect.skipIf(!existsSync(vmlinux))("the cached vmlinux boots through PVH", () =>
    Effect.gen(function*() {
      assert.isTrue(yield* Kernel.isPvhKernel(vmlinux))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect.skipIf(!existsSync(modules))("finds 9p's modules in the cached tree, each after what it depends on", () => {
    const release = readdirSync(modules)[0]!
    return Effect.gen(function*() {
      const files = yield* KernelModules.closure(`${modules}/${release}`, ninePModules)
      const names = files.map((file) => file.split("/").at(-1)!.replace(/\.ko$/, ""))
      assert.sameMembers(names, [
        "9p",
        "9pnet",
        "9pnet_virtio",
        "fscache",
        "netfs",
        "virtio",
        "virtio_pci",
        "virtio_pci_legacy_dev",
        "virtio_pci_modern_dev",
        "virtio_ring"
      ])
      const before = (a: string, b: string) => assert.isBelow(names.indexOf(a), names.indexOf(b), `${a} before ${b}`)
      before("netfs", "fscache")
      before("fscache", "9p")
      before("9pnet", "9p")
      before("9pnet", "9pnet_virtio")
      before("virtio_ring", "9pnet_virtio")
      before("virtio_pci_modern_dev", "virtio_pci")
    }).pipe(Effect.provide(NodeServices.layer))
  })
})
