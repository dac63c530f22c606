/**
 * Modules in a real VM: the six virtio modules of the cached Debian kernel,
 * compressed, given in alphabetical order (virtio.ko first, though it needs
 * virtio_ring), must all load, and then 1 MiB must pass the host pipes
 * (the virtio consoles that the modules give) unchanged. One boot per
 * compression; each takes about ten seconds.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Option } from "effect"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { join } from "node:path"
import * as zlib from "node:zlib"
import type { Transport } from "../../src/internal/protocol.ts"
import * as Kernel from "../../src/runner/Kernel.ts"
import * as Qemu from "../../src/runner/Qemu.ts"
import { xzStored } from "../unit/moduleFiles.ts"
import { boot, bootTimeout, hasQemu, hasTool } from "./harness.ts"

const hasXz = hasTool("xz")

/**
 * Virtio consoles: Debian's kernel has no console until virtio_console loads,
 * so this boot also proves that the init's log and exit code line reach
 * console 0 once the host pipes are set up.
 */
const transport: Transport = "virtio"

const virtioModules = [
  "drivers/char/virtio_console.ko",
  "drivers/virtio/virtio.ko",
  "drivers/virtio/virtio_pci.ko",
  "drivers/virtio/virtio_pci_legacy_dev.ko",
  "drivers/virtio/virtio_pci_modern_dev.ko",
  "drivers/virtio/virtio_ring.ko"
]

const compressors = {
  // As kbuild compresses modules; without the xz tool, a valid .xz of stored LZMA2 chunks.
  xz: (bytes: Uint8Array): Uint8Array =>
    hasXz
      ? new Uint8Array(execFileSync("xz", ["--check=crc32", "--lzma2=dict=1MiB", "-c"], { input: bytes }))
      : xzStored(bytes),
  zst: (bytes: Uint8Array): Uint8Array => new Uint8Array(zlib.zstdCompressSync(bytes)),
  gz: (bytes: Uint8Array): Uint8Array => new Uint8Array(zlib.gzipSync(bytes))
}

/** Compressed copies of the modules of the cached kernel, in alphabetical order of file name. */
const compressedModules = (files: ReadonlyArray<readonly [string, keyof typeof compressors]>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const tree = yield* Kernel.cachedModules
    assert.isTrue(Option.isSome(tree), "the cached kernel has its modules")
    const dir = yield* fs.makeTempDirectoryScoped()
    const paths: Array<string> = []
    for (const [file, extension] of files) {
      const bytes = yield* fs.readFile(join(Option.getOrThrow(tree), "kernel", file))
      const path = join(dir, `${file.split("/").at(-1)}.${extension}`)
      yield* fs.writeFile(path, compressors[extension](bytes))
      paths.push(path)
    }
    return paths.toSorted((a, b) => a.split("/").at(-1)!.localeCompare(b.split("/").at(-1)!))
  })

const bootWithModules = (modules: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const report = join(yield* fs.makeTempDirectoryScoped(), "report")
    const run = yield* boot("modules.ts", { transport, modules, outputs: [report] })
    return { ...run, report: yield* fs.readFileString(report) }
  })

describe.skipIf(!hasQemu)("modules in a VM booted with the runner", () => {
  it.live.each(
    [
      { format: "xz", extra: [] },
      { format: "zst", extra: [["drivers/net/dummy.ko", "gz"]] }
    ] as const
  )(
    "the six virtio modules as .ko.$format load in dependency order, and the host pipes carry 1 MiB after",
    ({ extra, format }) =>
      Effect.gen(function*() {
        const modules = yield* compressedModules([
          ...virtioModules.map((file) => [file, format] as const),
          ...extra
        ])
        const run = yield* bootWithModules(modules)
        // The exit code line comes over hvc0, which exists only once virtio_console has loaded.
        assert.deepStrictEqual(run.outcome, Qemu.Outcome.Exited({ code: 0 }), run.console.join("\n"))
        const report = JSON.parse(run.report) as {
          stdoutConsole: string
          sha256: string
          modules: ReadonlyArray<string>
        }
        assert.strictEqual(report.stdoutConsole, "/dev/hvc1")
        assert.includeMembers([...report.modules], [
          "virtio",
          "virtio_ring",
          "virtio_pci_modern_dev",
          "virtio_pci_legacy_dev",
          "virtio_pci",
          "virtio_console",
          ...extra.map(([file]) => file.split("/").at(-1)!.replace(".ko", ""))
        ])
        assert.strictEqual(run.stdout.length, 1024 * 1024)
        assert.strictEqual(createHash("sha256").update(run.stdout).digest("hex"), report.sha256)
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)),
    bootTimeout
  )
})
