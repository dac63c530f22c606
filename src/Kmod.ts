/**
 * Loading kernel modules, compressed or not, on any kernel, and sets of them
 * in dependency order, as modprobe would.
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import { type CompressionFormat, decompress } from "./formats/decompress.ts"
import * as Modinfo from "./formats/modinfo.ts"
import * as Abi from "./internal/abi.ts"
import * as ModuleGraph from "./internal/moduleGraph.ts"
import { SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * The compression of a module file, by its extension: `.ko.gz`, `.ko.xz`,
 * `.ko.zst`, or none.
 *
 * @since 0.1.0
 * @category models
 */
export type Compression = CompressionFormat | "none"

/**
 * The compression of a module file by its name, as modprobe reads it: only
 * `.ko.gz`, `.ko.xz` and `.ko.zst` are compressed modules; any other name
 * (`veth.gz` too) is loaded as it is, and the kernel judges the bytes.
 *
 * @since 0.1.0
 * @category operations
 */
export const compressionOf = (path: string): Compression => Modinfo.compressionOfFile(path) ?? "none"

/**
 * A compressed module file is corrupt or truncated.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleDecompressionError extends Data.TaggedError("ModuleDecompressionError")<{
  readonly path: string
  readonly format: CompressionFormat
  /** What the decoder said. */
  readonly reason: string
}> {
  override get message(): string {
    return `cannot decompress ${this.format} module ${JSON.stringify(this.path)}: ${this.reason}`
  }
}

/**
 * A module needs modules that are neither in the set being loaded, nor
 * loaded already (/proc/modules), nor built into the kernel (modules.builtin).
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleDependencyMissing extends Data.TaggedError("ModuleDependencyMissing")<{
  /** The module's name, as in its `.modinfo`. */
  readonly module: string
  readonly path: string
  readonly missing: ReadonlyArray<string>
}> {
  override get message(): string {
    return `module ${this.module} (${JSON.stringify(this.path)}) needs ${
      this.missing.join(", ")
    }: not among the modules to load, not loaded and not built in`
  }
}

/**
 * Modules of the set depend on each other in a cycle, so none can load first.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleDependencyCycle extends Data.TaggedError("ModuleDependencyCycle")<{
  /** The names around the cycle, the first repeated at the end: `["a", "b", "a"]`. */
  readonly cycle: ReadonlyArray<string>
}> {
  override get message(): string {
    return `modules depend on each other in a cycle: ${this.cycle.join(" -> ")}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type LoadModuleError = SyscallError | ModuleDecompressionError

/**
 * @since 0.1.0
 * @category errors
 */
export type LoadModulesError = LoadModuleError | ModuleDependencyMissing | ModuleDependencyCycle

/** Kernels before 6.4 do not know the flag (EINVAL); others lack in-kernel decompression or this format (EOPNOTSUPP). */
const kernelCannotDecompress = (error: SyscallError): boolean =>
  error.errno === "EINVAL" || error.errno === "EOPNOTSUPP"

const readImage = Effect.fnUntraced(function*(
  path: string,
  compression: Compression
): Effect.fn.Return<Uint8Array, LoadModuleError, Syscalls> {
  const syscalls = yield* Syscalls
  const bytes = yield* syscalls.readFile(path)
  if (compression === "none") return bytes
  return yield* decompress(compression, bytes).pipe(
    Effect.mapError((error) => new ModuleDecompressionError({ path, format: compression, reason: error.reason }))
  )
})

/** `init_module` has no path of its own: its errors name the file the image came from. */
const initModule = (path: string, image: Uint8Array, params: string) =>
  Syscalls.use((syscalls) =>
    syscalls.initModule(image, params).pipe(
      Effect.mapError((error) => SyscallError.of(error.syscall, error.code, path))
    )
  )

/**
 * finit_module(2) on the file, with the compressed-file flag when compressed;
 * when the kernel cannot decompress, init_module(2) with the image
 * decompressed here (from `image` when already at hand).
 */
const insert = (
  path: string,
  params: string,
  image?: Uint8Array
): Effect.Effect<void, LoadModuleError, Syscalls> =>
  Syscalls.use((syscalls) => {
    const compression = compressionOf(path)
    if (compression === "none") return syscalls.finitModule(path, params, 0)
    return syscalls.finitModule(path, params, Abi.MODULE_INIT_COMPRESSED_FILE).pipe(
      Effect.catchIf(kernelCannotDecompress, () =>
        Effect.flatMap(
          image === undefined ? readImage(path, compression) : Effect.succeed(image),
          (decompressed) => initModule(path, decompressed, params)
        ))
    )
  })

/**
 * Loads the one module file at `path` with `params` (e.g. `"numdummies=2"`),
 * as insmod does: through finit_module(2), asking the kernel to decompress a
 * `.ko.gz`, `.ko.xz` or `.ko.zst` file itself, and decompressing it here for
 * init_module(2) when the kernel cannot. Dependencies are not looked at, and
 * a module already loaded fails with EEXIST, since its `params` were not
 * applied.
 *
 * @since 0.1.0
 * @category operations
 */
export const loadModule = Effect.fn("Kmod.loadModule")(
  function*(path: string, params = ""): Effect.fn.Return<void, LoadModuleError, Syscalls> {
    yield* insert(path, params)
  }
)

const lines = (bytes: Uint8Array): Array<string> =>
  new TextDecoder().decode(bytes).split("\n").map((line) => line.trim()).filter((line) => line !== "")

/** What a file lists, or nothing when it cannot be read. */
const listedIn = (path: string): Effect.Effect<ReadonlyArray<string>, never, Syscalls> =>
  Syscalls.use((syscalls) => Effect.orElseSucceed(Effect.map(syscalls.readFile(path), lines), () => []))

/** The modules in /proc/modules; none when /proc is not mounted. */
const loadedModules = Effect.map(listedIn("/proc/modules"), (modules) => modules.map((line) => line.split(" ")[0]!))

/**
 * The built-in modules listed in `/lib/modules/<release>/modules.builtin`,
 * where depmod's tree has it, and in `/lib/modules/modules.builtin`, where the
 * VM runner puts a file given with `--add-module`.
 */
const builtinModules = Effect.gen(function*() {
  const [release] = yield* listedIn("/proc/sys/kernel/osrelease")
  const files = release === undefined ? [] : [`/lib/modules/${release}/modules.builtin`]
  files.push("/lib/modules/modules.builtin")
  const listed: Array<string> = []
  for (const file of files) listed.push(...yield* listedIn(file))
  return listed.map(Modinfo.nameFromPath)
})

interface ModuleFile extends Modinfo.ModuleInfo {
  readonly path: string
  /** The uncompressed image, read once for `.modinfo` and kept for init_module. */
  readonly image: Uint8Array
}

/**
 * Loads every module file matching a glob pattern (e.g. `/lib/modules/*`),
 * as modprobe would: each after the modules of the set it depends on (its
 * `.modinfo` says which), otherwise in sorted order of path. A dependency
 * outside the set must be loaded already (/proc/modules) or built in
 * (modules.builtin, see above); a module already loaded counts as loaded.
 * Files without a module extension (`.ko`, `.ko.gz`, `.ko.xz`, `.ko.zst`)
 * and directories are skipped. The first failure stops the rest.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Kmod, Layer } from "effect-sysinit"
 * import { gzipSync } from "node:zlib"
 *
 * // Stand-ins for module files: the in-memory kernel loads any ELF image, named
 * // by its .modinfo or else by its file (these hold only the ELF magic).
 * const elf = "\x7fELF"
 * const machine = Layer.memory({
 *   files: { "/lib/modules/veth.ko.gz": gzipSync(elf), "/lib/modules/dummy.ko": elf, "/lib/modules/README": "" }
 * })
 *
 * const program = Effect.gen(function*() {
 *   yield* Kmod.loadModules("/lib/modules/*")
 *   const kernel = yield* Layer.MemoryKernel
 *   console.log(kernel.state.modules.map((module) => module.name).join(" "))
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(machine)))
 * // prints: dummy veth
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const loadModules = Effect.fn("Kmod.loadModules")(
  function*(pattern: string): Effect.fn.Return<void, LoadModulesError, Syscalls> {
    const syscalls = yield* Syscalls
    const modules: Array<ModuleFile> = []
    for (const path of yield* syscalls.glob(pattern)) {
      if (!Modinfo.isModuleFile(path) || (yield* syscalls.fileType(path)) === "directory") continue
      const image = yield* readImage(path, compressionOf(path))
      modules.push({ path, image, ...(yield* Modinfo.read(image, path)) })
    }
    if (modules.length === 0) return

    const satisfied = new Set([...yield* loadedModules, ...yield* builtinModules])
    const order = ModuleGraph.loadOrder(modules, satisfied)
    if (order._tag === "Cycle") return yield* new ModuleDependencyCycle({ cycle: order.cycle })
    if (order._tag === "Missing") {
      const module = modules[order.index]!
      return yield* new ModuleDependencyMissing({ module: module.name, path: module.path, missing: order.missing })
    }
    for (const index of order.order) {
      const module = modules[index]!
      yield* insert(module.path, "", module.image).pipe(
        Effect.catchIf((error) => error._tag === "SyscallError" && error.errno === "EEXIST", () => Effect.void)
      )
    }
  }
)
