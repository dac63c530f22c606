import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Modinfo from "../../src/formats/modinfo.ts"
import * as Abi from "../../src/internal/abi.ts"
import * as Kmod from "../../src/Kmod.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import * as Mount from "../../src/Mount.ts"
import { syscallError, withKernel } from "./helpers.ts"
import { gzip, module, moduleElf, xzStored, zstd } from "./moduleFiles.ts"

const compressors = { gzip, xz: xzStored, zstd } as const
const extensions = { gzip: ".ko.gz", xz: ".ko.xz", zstd: ".ko.zst" } as const
const formats = ["gzip", "xz", "zstd"] as const

/** The six virtio modules of Debian's 6.1 kernel, with their real `depends=`. */
const virtioModules: Record<string, ReadonlyArray<string>> = {
  virtio: ["virtio_ring"],
  virtio_console: ["virtio", "virtio_ring"],
  virtio_pci: ["virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio"],
  virtio_pci_legacy_dev: [],
  virtio_pci_modern_dev: [],
  virtio_ring: []
}

const failure = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

describe("Modinfo.read", () => {
  it.effect.each(
    [
      { case: "name and depends", fields: [["depends", "a,b-c"], ["name", "m"]], name: "m", depends: ["a", "b_c"] },
      { case: "an empty depends", fields: [["depends", ""], ["name", "m"]], name: "m", depends: [] },
      { case: "no depends", fields: [["name", "m"]], name: "m", depends: [] },
      {
        case: "depends given twice",
        fields: [["depends", "a"], ["depends", "b"], ["name", "m"]],
        name: "m",
        depends: ["a", "b"]
      },
      { case: "a name with '-'", fields: [["name", "dm-mod"]], name: "dm_mod", depends: [] },
      { case: "no name", fields: [["license", "GPL"]], name: "my_mod", depends: [] }
    ] as const
  )("reads $case from .modinfo", ({ depends, fields, name }) =>
    Effect.gen(function*() {
      const info = yield* Modinfo.read(moduleElf(fields), "/lib/modules/my-mod.ko")
      assert.deepStrictEqual(info, { name, depends })
    }))

  it.effect.each([
    { case: "a file that is not ELF", image: new TextEncoder().encode("not a module") },
    { case: "an ELF file cut short", image: module("other", ["x"]).subarray(0, 80) }
  ])("names $case after the file, with no dependencies", ({ image }) =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Modinfo.read(image, "/m/dummy.ko.xz"), { name: "dummy", depends: [] })
    }))
})

describe("Kmod.loadModule", () => {
  it.effect("loads an uncompressed module with finit_module, without flags", () =>
    Effect.gen(function*() {
      yield* Kmod.loadModule("/m/a.ko", "debug=1")
      const { calls, state } = yield* MemoryKernel
      assert.deepStrictEqual(state.modules, [{ name: "a", path: "/m/a.ko", params: "debug=1", flags: 0 }])
      assert.deepStrictEqual(calls.map((c) => c.call), ["finitModule"])
    }).pipe(withKernel({ files: { "/m/a.ko": module("a") } })))

  it.effect.each(formats)("a %s module is given to the kernel to decompress when it can", (format) => {
    const file = `/m/a${extensions[format]}`
    return Effect.gen(function*() {
      yield* Kmod.loadModule(file, "debug=1")
      const { calls, state } = yield* MemoryKernel
      assert.deepStrictEqual(state.modules, [{
        name: "a",
        path: file,
        params: "debug=1",
        flags: Abi.MODULE_INIT_COMPRESSED_FILE
      }])
      assert.deepStrictEqual(calls.map((c) => c.call), ["finitModule"])
    }).pipe(withKernel({ files: { [file]: compressors[format](module("a")) } }))
  })

  const refusals = formats.flatMap((format) =>
    (["EINVAL", "EOPNOTSUPP"] as const).map((refusal) => ({ format, refusal }))
  )

  it.effect.each(refusals)(
    "a $format module is decompressed here for init_module when the kernel answers $refusal",
    ({ format, refusal }) =>
      Effect.gen(function*() {
        const file = `/m/virtio-ring${extensions[format]}`
        yield* Kmod.loadModule(file, "x=1").pipe(
          Effect.andThen(Effect.gen(function*() {
            const { calls, state } = yield* MemoryKernel
            assert.deepStrictEqual(state.modules, [{ name: "virtio_ring", path: undefined, params: "x=1", flags: 0 }])
            assert.deepStrictEqual(calls.map((c) => c.call), ["finitModule", "readFile", "initModule"])
          })),
          withKernel({ compressedModules: refusal, files: { [file]: compressors[format](module("virtio_ring")) } })
        )
      })
  )

  const damages = formats.flatMap((format) => [
    { format, damage: "truncated", damaged: (bytes: Uint8Array) => bytes.subarray(0, bytes.length - 9) },
    {
      format,
      damage: "corrupt",
      damaged: (bytes: Uint8Array) => bytes.map((byte, i) => i >= 12 && i < bytes.length - 12 ? byte ^ 0x5a : byte)
    },
    { format, damage: "empty", damaged: () => new Uint8Array(0) }
  ])

  it.effect.each(damages)("a $damage $format module fails with an error naming the file and format", ({
    damaged,
    format
  }) =>
    Effect.gen(function*() {
      const file = `/m/a${extensions[format]}`
      for (const compressedModules of ["decompress", "EOPNOTSUPP"] as const) {
        const error = yield* failure(Kmod.loadModule(file)).pipe(
          withKernel({ compressedModules, files: { [file]: damaged(compressors[format](module("a"))) } })
        )
        assert.strictEqual(error._tag, "ModuleDecompressionError")
        if (error._tag !== "ModuleDecompressionError") continue
        assert.deepStrictEqual([error.path, error.format], [file, format])
        assert.include(error.message, file)
        assert.include(error.message, format)
      }
    }))

  it.effect("another refusal of finit_module is the error, without decompressing", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "finitModule", errno: "EPERM" })
      const error = yield* syscallError(Kmod.loadModule("/m/a.ko.xz"))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["finit_module", "EPERM", "/m/a.ko.xz"])
      assert.deepStrictEqual(kernel.calls.map((c) => c.call), ["finitModule"])
      assert.deepStrictEqual(kernel.state.modules, [])
    }).pipe(withKernel({ files: { "/m/a.ko.xz": xzStored(module("a")) } })))

  it.effect.each(["/where/ever", "/m/missing.ko.xz"])(
    "a missing file %s fails as open does, ENOENT, and nothing is decompressed or loaded",
    (file) =>
      Effect.gen(function*() {
        const error = yield* syscallError(Kmod.loadModule(file))
        assert.deepStrictEqual([error.syscall, error.errno, error.path], ["open", "ENOENT", file])
        const kernel = yield* MemoryKernel
        assert.deepStrictEqual(kernel.calls.map((c) => c.call), ["finitModule"])
        assert.deepStrictEqual(kernel.state.modules, [])
      }).pipe(withKernel())
  )

  it.effect.each(["/m/veth.gz", "/m/tun.txt", "/m/dummy"])(
    "an uncompressed module under any other name (%s) is loaded as it is, and the kernel judges the bytes",
    (file) =>
      Effect.gen(function*() {
        yield* Kmod.loadModule(file)
        const { calls, state } = yield* MemoryKernel
        assert.deepStrictEqual(state.modules, [{ name: "veth", path: file, params: "", flags: 0 }])
        assert.deepStrictEqual(calls.map((c) => c.call), ["finitModule"])
      }).pipe(withKernel({ files: { [file]: module("veth") } }))
  )

  it.effect("a gzip file not named .ko.gz is not a module the kernel takes: ENOEXEC, not decompressed", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Kmod.loadModule("/m/veth.gz"))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["finit_module", "ENOEXEC", "/m/veth.gz"])
      assert.deepStrictEqual((yield* MemoryKernel).state.modules, [])
    }).pipe(withKernel({ files: { "/m/veth.gz": gzip(module("veth")) } })))

  it.effect("an uncompressed module named .ko.xz: the kernel cannot decompress it (EINVAL), nor can loadModule", () =>
    Effect.gen(function*() {
      const error = yield* failure(Kmod.loadModule("/m/veth.ko.xz"))
      assert.strictEqual(error._tag, "ModuleDecompressionError")
      if (error._tag !== "ModuleDecompressionError") return
      assert.deepStrictEqual([error.path, error.format], ["/m/veth.ko.xz", "xz"])
      const { calls, state } = yield* MemoryKernel
      assert.deepStrictEqual(calls.map((c) => c.call), ["finitModule", "readFile"])
      assert.deepStrictEqual(state.modules, [])
    }).pipe(withKernel({ files: { "/m/veth.ko.xz": module("veth") } })))

  it.effect("an init_module failure names the file the image came from", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "initModule", errno: "EPERM" })
      const error = yield* syscallError(Kmod.loadModule("/m/a.ko.zst"))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["init_module", "EPERM", "/m/a.ko.zst"])
    }).pipe(withKernel({ compressedModules: "EOPNOTSUPP", files: { "/m/a.ko.zst": zstd(module("a")) } })))

  it.effect("loading a module that is already loaded fails with EEXIST, as its params were not applied", () =>
    Effect.gen(function*() {
      yield* Kmod.loadModule("/m/a.ko")
      const error = yield* syscallError(Kmod.loadModule("/m/a.ko", "debug=1"))
      assert.deepStrictEqual([error.errno, error.path], ["EEXIST", "/m/a.ko"])
      assert.deepStrictEqual((yield* MemoryKernel).state.modules.map((m) => m.params), [""])
    }).pipe(withKernel({ files: { "/m/a.ko": module("a") } })))

  it.effect("loads exactly the one file, whatever its dependencies", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Kmod.loadModule("/m/virtio.ko"))
      assert.deepStrictEqual([error.syscall, error.errno], ["finit_module", "ENOENT"])
      assert.deepStrictEqual((yield* MemoryKernel).state.modules, [])
    }).pipe(
      withKernel({ files: { "/m/virtio.ko": module("virtio", ["virtio_ring"]), "/m/ring.ko": module("virtio_ring") } })
    ))

  it("compressionOf reads a module's extension, as modprobe does: only .ko.gz, .ko.xz and .ko.zst are compressed", () => {
    assert.deepStrictEqual(
      ["a.ko", "a.ko.gz", "a.ko.xz", "a.ko.zst", "/lib/modules/x/veth.ko.zst"].map(Kmod.compressionOf),
      ["none", "gzip", "xz", "zstd", "zstd"]
    )
    assert.deepStrictEqual(
      ["veth.gz", "veth.xz", "veth.zst", "tun.txt", "dummy", "a.ko.bz2", "a.gz.ko"].map(Kmod.compressionOf),
      ["none", "none", "none", "none", "none", "none", "none"]
    )
  })
})

describe("Kmod.loadModules", () => {
  it.effect.each(formats)(
    "loads Debian's six virtio modules compressed with %s in dependency order",
    (format) =>
      Effect.gen(function*() {
        yield* Kmod.loadModules("/lib/modules/*")
        const loaded = (yield* MemoryKernel).state.modules.map((m) => m.name)
        assert.deepStrictEqual(loaded, [
          "virtio_ring",
          "virtio",
          "virtio_console",
          "virtio_pci_modern_dev",
          "virtio_pci_legacy_dev",
          "virtio_pci"
        ])
      }).pipe(withKernel({
        compressedModules: format === "zstd" ? "EOPNOTSUPP" : "decompress",
        files: Object.fromEntries(
          Object.entries(virtioModules).map((
            [name, depends]
          ) => [`/lib/modules/${name}${extensions[format]}`, compressors[format](module(name, depends))])
        )
      }))
  )

  it.effect.prop(
    "loads any set in an order that satisfies every dependency, whatever the glob order",
    [Schema.Array(Schema.Boolean), Schema.Array(Schema.Number)],
    ([edges, keys]) => {
      // Module i may depend on any module j < i: every such graph is acyclic.
      const count = Math.min(8, Math.max(1, keys.length))
      const names = Array.from({ length: count }, (_, i) => `m${i}`)
      let edge = 0
      const depends = names.map((_, i) => names.slice(0, i).filter(() => edges[edge++ % Math.max(edges.length, 1)]))
      // A key decides where the file comes in the glob order, and its compression.
      const files: Record<string, Uint8Array> = {}
      names.forEach((name, i) => {
        const given = keys[i] ?? i
        const key = Number.isFinite(given) ? Math.abs(Math.trunc(given)) % 1000 : i
        const kind = (["none", "gzip", "xz", "zstd"] as const)[key % 4]!
        const file = `/mods/${String(key).padStart(3, "0")}-${name}`
        const image = module(name, depends[i]!)
        if (kind === "none") files[`${file}.ko`] = image
        else files[`${file}${extensions[kind]}`] = compressors[kind](image)
      })
      return Effect.gen(function*() {
        yield* Kmod.loadModules("/mods/*")
        const loaded = (yield* MemoryKernel).state.modules.map((m) => m.name)
        assert.sameMembers(loaded, names)
        names.forEach((name, i) => {
          for (const dep of depends[i]!) assert.isBelow(loaded.indexOf(dep), loaded.indexOf(name))
        })
      }).pipe(withKernel({ files, compressedModules: keys.length % 2 === 0 ? "decompress" : "EINVAL" }))
    }
  )

  it.effect("a module whose dependency is in no file, not loaded and not built in fails, naming both", () =>
    Effect.gen(function*() {
      const error = yield* failure(Kmod.loadModules("/lib/modules/*.ko"))
      assert.strictEqual(error._tag, "ModuleDependencyMissing")
      if (error._tag !== "ModuleDependencyMissing") return
      assert.deepStrictEqual([error.module, error.path, error.missing], [
        "virtio_console",
        "/lib/modules/virtio_console.ko",
        ["virtio", "virtio_ring"]
      ])
      assert.include(error.message, "virtio_console")
      assert.include(error.message, "virtio, virtio_ring")
      assert.deepStrictEqual((yield* MemoryKernel).state.modules, [])
    }).pipe(withKernel({
      files: {
        "/lib/modules/a.ko": module("a"),
        "/lib/modules/virtio_console.ko": module("virtio_console", ["virtio", "virtio_ring"])
      }
    })))

  it.effect("a dependency already loaded, in /proc/modules, is satisfied", () =>
    Effect.gen(function*() {
      yield* Mount.mount("/proc", { fsType: "proc" })
      yield* Kmod.loadModules("/lib/modules/*")
      assert.deepStrictEqual((yield* MemoryKernel).state.modules.map((m) => m.name), [
        "virtio_ring",
        "virtio",
        "virtio_console"
      ])
    }).pipe(withKernel({
      loadedModules: ["virtio_ring", "virtio"],
      files: { "/lib/modules/virtio_console.ko.xz": xzStored(module("virtio_console", ["virtio", "virtio_ring"])) }
    })))

  it.effect.each([
    { where: "the kernel release's modules.builtin", file: "/lib/modules/6.1.0-test/modules.builtin" },
    { where: "/lib/modules/modules.builtin, where the runner puts it", file: "/lib/modules/modules.builtin" }
  ])("a dependency built into the kernel, listed in $where, is satisfied", ({ file }) =>
    Effect.gen(function*() {
      yield* Mount.mount("/proc", { fsType: "proc" })
      yield* Kmod.loadModules("/lib/modules/*")
      assert.deepStrictEqual((yield* MemoryKernel).state.modules.map((m) => m.name), ["virtio_console"])
    }).pipe(withKernel({
      builtinModules: ["virtio", "virtio_ring"],
      sysctls: { "kernel.osrelease": "6.1.0-test" },
      files: {
        [file]: "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n",
        "/lib/modules/virtio_console.ko": module("virtio_console", ["virtio", "virtio_ring"])
      }
    })))

  it.effect.each([
    { case: "two modules", modules: { a: ["b"], b: ["a"] }, cycle: ["a", "b", "a"] },
    { case: "a module and itself", modules: { a: ["a"] }, cycle: ["a", "a"] },
    {
      case: "three modules behind a fine one",
      modules: { a: [], b: ["c"], c: ["d"], d: ["b", "a"] },
      cycle: [
        "b",
        "c",
        "d",
        "b"
      ]
    }
  ])("a cycle of $case fails naming the modules around it", ({ cycle, modules }) =>
    Effect.gen(function*() {
      const error = yield* failure(Kmod.loadModules("/m/*"))
      assert.strictEqual(error._tag, "ModuleDependencyCycle")
      if (error._tag !== "ModuleDependencyCycle") return
      assert.deepStrictEqual(error.cycle, cycle)
      assert.include(error.message, cycle.join(" -> "))
      assert.deepStrictEqual((yield* MemoryKernel).state.modules, [])
    }).pipe(withKernel({
      files: Object.fromEntries(Object.entries(modules).map(([name, deps]) => [`/m/${name}.ko`, module(name, deps)]))
    })))

  it.effect("a module already loaded counts as loaded", () =>
    Effect.gen(function*() {
      yield* Kmod.loadModules("/m/*")
      yield* Kmod.loadModules("/m/*")
      assert.deepStrictEqual((yield* MemoryKernel).state.modules.map((m) => m.name), ["a", "b"])
    }).pipe(withKernel({ files: { "/m/a.ko": module("a"), "/m/b.ko.gz": gzip(module("b", ["a"])) } })))

  it.effect("skips directories and files that are not modules", () =>
    Effect.gen(function*() {
      yield* Kmod.loadModules("/lib/modules/*")
      const { calls, state } = yield* MemoryKernel
      assert.deepStrictEqual(state.modules.map((m) => m.path), ["/lib/modules/a.ko"])
      assert.isFalse(calls.some((c) => c.path === "/lib/modules/modules.builtin" && c.call !== "readFile"))
    }).pipe(withKernel({
      files: { "/lib/modules/a.ko": module("a"), "/lib/modules/modules.builtin": "kernel/fs/ext4/ext4.ko\n" },
      directories: ["/lib/modules/kernel.ko"]
    })))

  it.effect("reads each file once, and gives a compressed one to init_module decompressed when the kernel cannot", () =>
    Effect.gen(function*() {
      yield* Kmod.loadModules("/m/*")
      const { calls, state } = yield* MemoryKernel
      assert.deepStrictEqual(state.modules.map((m) => m.name), ["a", "b"])
      assert.deepStrictEqual(
        calls.filter((c) => c.path?.startsWith("/m/") && c.call === "readFile").map((c) => c.path),
        [
          "/m/a.ko.xz",
          "/m/b.ko.zst"
        ]
      )
      assert.deepStrictEqual(calls.filter((c) => c.call === "initModule").length, 2)
    }).pipe(withKernel({
      compressedModules: "EINVAL",
      files: { "/m/a.ko.xz": xzStored(module("a")), "/m/b.ko.zst": zstd(module("b", ["a"])) }
    })))

  it.effect("a corrupt compressed module stops the set before anything loads", () =>
    Effect.gen(function*() {
      const error = yield* failure(Kmod.loadModules("/m/*"))
      assert.strictEqual(error._tag, "ModuleDecompressionError")
      assert.deepStrictEqual((yield* MemoryKernel).state.modules, [])
    }).pipe(withKernel({
      files: { "/m/a.ko": module("a"), "/m/b.ko.xz": xzStored(module("b")).subarray(0, 40) }
    })))

  it.effect("the first module the kernel refuses stops the rest with its error", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "finitModule", errno: "ENOEXEC", path: "/m/b.ko" })
      const error = yield* syscallError(Kmod.loadModules("/m/*"))
      assert.deepStrictEqual([error.errno, error.path], ["ENOEXEC", "/m/b.ko"])
      assert.deepStrictEqual(kernel.state.modules.map((m) => m.name), ["a"])
    }).pipe(withKernel({ files: { "/m/a.ko": module("a"), "/m/b.ko": module("b"), "/m/c.ko": module("c") } })))

  it.effect("a pattern that matches nothing loads nothing", () =>
    Effect.gen(function*() {
      yield* Kmod.loadModules("/lib/modules/*")
      assert.deepStrictEqual((yield* MemoryKernel).state.modules, [])
    }).pipe(withKernel()))
})
