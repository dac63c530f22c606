/**
 * Modules in a real VM: the six virtio modules of the cached Debian kernel,
 * compressed, given in alphabetical order of file name (which puts
 * virtio_console before virtio and virtio_ring, which it needs), must all
 * load, in an order where each comes after what its `depends=` names (the
 * kernel's own order, from /proc/modules), and then 16 MiB must pass the
 * host pipes (the virtio consoles that the modules give) unchanged. A wrong
 * order also fails the boot itself: the kernel refuses a module whose
 * dependencies are not loaded. One boot, each decompression among its
 * modules.
 *
 * The suite's one large transfer, where it is cheap (about a second more
 * than 1 MiB under TCG): every buffer on the way (the tty's and hvc's
 * page-sized ones, the port's queue in QEMU) fills and drains thousands of
 * times, so that a rare loss at a refill shows here if anywhere. The serial
 * transport's output is pid1.test.ts's.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Option } from "effect"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { join } from "node:path"
import * as zlib from "node:zlib"
import type { Transport } from "../../src/protocol/consoles.ts"
import * as Kernel from "../../src/runner/kernel/Kernel.ts"
import * as Qemu from "../../src/runner/machine/Qemu.ts"
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

/**
 * What a module file says it depends on, read here with a plain search of its
 * bytes for `depends=`, so that the check does not rest on the ELF and
 * .modinfo readers that the init uses.
 */
const dependsOf = (bytes: Uint8Array): ReadonlyArray<string> => {
  const match = /\0depends=([^\0]*)\0/.exec(Buffer.from(bytes).toString("latin1"))
  assert.isNotNull(match, "the module has a depends= entry")
  return match![1] === "" ? [] : match![1]!.split(",")
}

/**
 * Compressed copies of the modules of the cached kernel, in alphabetical
 * order of file name, and what each module (by name) depends on.
 */
const compressedModules = (files: ReadonlyArray<readonly [string, keyof typeof compressors]>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const tree = yield* Kernel.cachedModules
    assert.isTrue(Option.isSome(tree), "the cached kernel has its modules")
    const dir = yield* fs.makeTempDirectoryScoped()
    const paths: Array<string> = []
    const depends = new Map<string, ReadonlyArray<string>>()
    for (const [file, extension] of files) {
      const bytes = yield* fs.readFile(join(Option.getOrThrow(tree), "kernel", file))
      const path = join(dir, `${file.split("/").at(-1)}.${extension}`)
      yield* fs.writeFile(path, compressors[extension](bytes))
      paths.push(path)
      depends.set(moduleName(path), dependsOf(bytes))
    }
    return { paths: paths.toSorted((a, b) => fileName(a).localeCompare(fileName(b))), depends }
  })

const fileName = (path: string): string => path.split("/").at(-1)!
const moduleName = (path: string): string => fileName(path).replace(/\.ko(\.\w+)?$/, "")

/** The modules of `order` that come before one they depend on. */
const outOfOrder = (order: ReadonlyArray<string>, depends: ReadonlyMap<string, ReadonlyArray<string>>) =>
  order.filter((name, i) => (depends.get(name) ?? []).some((dependency) => !order.slice(0, i).includes(dependency)))

const bootWithModules = (modules: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const report = join(yield* fs.makeTempDirectoryScoped(), "report")
    const run = yield* boot("modules.ts", { transport, modules, outputs: [report] })
    return { ...run, report: yield* fs.readFileString(report) }
  })

// Each decompressor of the init against the real kernel: the virtio modules alternate xz and zstd, dummy is gzip.
const files: ReadonlyArray<readonly [string, keyof typeof compressors]> = [
  ...virtioModules.map((file, i) => [file, i % 2 === 0 ? "xz" : "zst"] as const),
  ["drivers/net/dummy.ko", "gz"]
]

describe.skipIf(!hasQemu)("modules in a VM booted with the runner", () => {
  it.live(
    "the six virtio modules as .ko.xz and .ko.zst and dummy as .ko.gz load in dependency order, and the host pipes carry 16 MiB after",
    () =>
      Effect.gen(function*() {
        const modules = yield* compressedModules(files)
        const given = modules.paths.map(moduleName)
        assert.isNotEmpty(outOfOrder(given, modules.depends), `given out of dependency order: ${given.join(", ")}`)
        const run = yield* bootWithModules(modules.paths)
        // The exit code line comes over hvc0, which exists only once virtio_console has loaded.
        assert.deepStrictEqual(run.outcome, Qemu.Outcome.Exited({ code: 0 }), run.console.join("\n"))
        const report = JSON.parse(run.report) as {
          stdoutConsole: string
          sha256: string
          loadOrder: ReadonlyArray<string>
        }
        assert.strictEqual(report.stdoutConsole, "/dev/hvc1")
        assert.sameMembers([...report.loadOrder], given, "the kernel loaded each module given, and no other")
        assert.deepStrictEqual(outOfOrder(report.loadOrder, modules.depends), [], report.loadOrder.join(", "))
        assert.strictEqual(run.stdout.length, 16 * 1024 * 1024)
        assert.strictEqual(createHash("sha256").update(run.stdout).digest("hex"), report.sha256)
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)),
    bootTimeout
  )
})
