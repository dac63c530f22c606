/**
 * Modules from a kernel's module tree (`/lib/modules/<release>` of its
 * package), by name, with every module they need: each module's own
 * `.modinfo` (`depends=`) says which, and `modules.builtin` says which of
 * those are built in and need no file. The runner adds what the consoles of
 * a transport need this way (virtio_console and virtio_mmio on Debian's
 * arm64 kernel).
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { type CompressionFormat, decompress } from "../../formats/decompress.ts"
import * as Modinfo from "../../formats/modinfo.ts"
import * as Remembered from "../remembered.ts"

/**
 * A module asked for, or needed by one, is neither in the tree nor built in.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleNotInTree extends Data.TaggedError("ModuleNotInTree")<{
  readonly module: string
  /** The module that needs it; none when it was asked for. */
  readonly neededBy: string | undefined
  readonly tree: string
}> {
  override get message(): string {
    const need = this.neededBy === undefined ? "" : ` (needed by ${this.neededBy})`
    return `module ${this.module}${need} is neither in ${this.tree} nor built into its kernel`
  }
}

const compressions: ReadonlyArray<readonly [string, CompressionFormat | undefined]> = [
  ["", undefined],
  [".xz", "xz"],
  [".zst", "zstd"],
  [".gz", "gzip"]
]

const lines = (text: string): Array<string> => text.split("\n").map((line) => line.trim()).filter((line) => line !== "")

/** The `.ko` files of the tree by module name, from `modules.order`, else by walking `kernel/`. */
const moduleFiles = Effect.fnUntraced(function*(tree: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const order = yield* fs.readFileString(path.join(tree, "modules.order")).pipe(Effect.option)
  const relative = order._tag === "Some"
    ? lines(order.value)
    : (yield* fs.readDirectory(path.join(tree, "kernel"), { recursive: true }))
      .filter(Modinfo.isModuleFile)
      .map((file) => path.join("kernel", file))
  const byName = new Map<string, string>()
  for (const file of relative) {
    byName.set(Modinfo.nameFromPath(file), path.join(tree, file.replace(/\.(xz|zst|gz)$/, "")))
  }
  return byName
})

/** The file of a `.ko` as it is on disk, compressed or not, and its uncompressed image. */
const readModule = Effect.fnUntraced(function*(ko: string) {
  const fs = yield* FileSystem.FileSystem
  for (const [extension, format] of compressions) {
    const file = ko + extension
    if (!(yield* fs.exists(file))) continue
    const bytes = yield* fs.readFile(file)
    const image = format === undefined
      ? bytes
      : yield* decompress(format, bytes).pipe(Effect.orElseSucceed(() => bytes))
    return { file, image }
  }
  return undefined
})

/**
 * The files of the named modules and of every module they need, needed
 * ones first; built-in modules have no file and are left out.
 *
 * @since 0.1.0
 * @category resolution
 */
export const closure = Effect.fn("KernelModules.closure")(function*(
  tree: string,
  names: ReadonlyArray<string>
): Effect.fn.Return<ReadonlyArray<string>, ModuleNotInTree | PlatformError, FileSystem.FileSystem | Path.Path> {
  if (names.length === 0) return []
  // Reading a tree's module list and the modules' .modinfo (xz to undo first) takes tens of milliseconds:
  // the answer is kept, under the tree and its module lists' identities.
  const lists = yield* Remembered.identities(["modules.order", "modules.builtin"].map((list) => `${tree}/${list}`))
  return yield* Remembered.remember({
    folder: "modules",
    key: { tree, names, lists },
    compute: resolveClosure(tree, names),
    filesOf: (files) => files
  })
})

const resolveClosure = Effect.fnUntraced(function*(tree: string, names: ReadonlyArray<string>) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const builtin = new Set(
    lines(yield* fs.readFileString(path.join(tree, "modules.builtin")).pipe(Effect.orElseSucceed(() => "")))
      .map(Modinfo.nameFromPath)
  )
  const files = yield* moduleFiles(tree)
  const visited = new Set<string>()
  const found: Array<string> = []
  const visit = (
    name: string,
    neededBy: string | undefined
  ): Effect.Effect<void, ModuleNotInTree | PlatformError, FileSystem.FileSystem> =>
    Effect.gen(function*() {
      const canonical = Modinfo.canonicalName(name)
      if (visited.has(canonical) || builtin.has(canonical)) return
      visited.add(canonical)
      const ko = files.get(canonical)
      const module = ko === undefined ? undefined : yield* readModule(ko)
      if (module === undefined) return yield* new ModuleNotInTree({ module: canonical, neededBy, tree })
      const info = yield* Modinfo.read(module.image, module.file)
      for (const dependency of info.depends) yield* visit(dependency, canonical)
      found.push(module.file)
    })
  for (const name of names) yield* visit(name, undefined)
  return found as ReadonlyArray<string>
})
