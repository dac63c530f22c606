/**
 * Finds the shared libraries and the dynamic loader that ELF binaries need,
 * the way the loader would: `DT_NEEDED` names looked up in the binary's
 * `DT_RUNPATH` and then in the system directories, recursively.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import * as NodePath from "node:path"
import * as Elf from "../../formats/elf.ts"
import * as Architecture from "../machine/Architecture.ts"
import * as Remembered from "../remembered.ts"

/**
 * The directories the x86_64 glibc loader searches when no cache says
 * otherwise (Debian and Ubuntu add the multiarch ones).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSearchPath: ReadonlyArray<string> = Architecture.all.x86_64.librarySearchPath

/**
 * A library that a binary needs was found in none of the searched directories.
 *
 * @since 0.1.0
 * @category errors
 */
export class SharedLibraryNotFound extends Data.TaggedError("SharedLibraryNotFound")<{
  readonly library: string
  readonly neededBy: string
  readonly searched: ReadonlyArray<string>
}> {
  override get message(): string {
    return `${this.library} (needed by ${this.neededBy}) is in none of ${this.searched.join(", ")}`
  }
}

/**
 * Paths of the loader and of every library the binaries need, directly or
 * through other libraries, in the order found. A library sits at the same
 * path in the guest as under `root` on the host (the host's own `/` by
 * default; an unpacked sysroot for a guest of another architecture), so the
 * guest's loader finds it in the same place.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = Effect.fn("SharedLibraries.resolve")(function*(
  binaries: ReadonlyArray<string>,
  searchPath: ReadonlyArray<string> = defaultSearchPath,
  root = "/"
): Effect.fn.Return<
  ReadonlyArray<string>,
  SharedLibraryNotFound | Elf.ElfError | PlatformError,
  FileSystem.FileSystem | Path.Path
> {
  // Reading node's ELF headers and its libraries' takes tens of milliseconds; the answer is kept while
  // the binaries and the libraries found are unchanged.
  return yield* Remembered.remember({
    folder: "libraries",
    key: { binaries: yield* Remembered.identities(binaries), searchPath, root },
    compute: search(binaries, searchPath, root),
    filesOf: (libraries) => libraries.map((library) => NodePath.join(root, library))
  })
})

const search = Effect.fnUntraced(function*(
  binaries: ReadonlyArray<string>,
  searchPath: ReadonlyArray<string>,
  root: string
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const found: Array<string> = []
  const realPaths = new Set<string>()
  const byName = new Map<string, string>()
  const visited = new Set<string>()
  const queue = [...binaries]
  // The binaries are host files; what they need is found under root.
  const onHost = (object: string) => binaries.includes(object) ? object : path.join(root, object)

  const find = Effect.fnUntraced(function*(name: string, neededBy: string, runpath: ReadonlyArray<string>) {
    if (name.includes("/")) return name
    const known = byName.get(name)
    if (known !== undefined) return known
    const origin = path.dirname(neededBy)
    const dirs = [...runpath.map((dir) => dir.replaceAll(/\$\{?ORIGIN\}?/g, origin)), ...searchPath]
    for (const dir of dirs) {
      const candidate = path.join(dir, name)
      if (yield* fs.exists(path.join(root, candidate))) {
        byName.set(name, candidate)
        return candidate
      }
    }
    return yield* new SharedLibraryNotFound({ library: name, neededBy, searched: dirs })
  })

  while (queue.length > 0) {
    const object = queue.shift()!
    if (visited.has(object)) continue
    visited.add(object)
    const dynamic = yield* Effect.scoped(Effect.flatMap(
      fs.open(onHost(object), { flag: "r" }),
      (file) => Elf.readDynamic(Elf.fromFile(file))
    ))
    const dependencies = dynamic.interpreter === undefined ? [] : [dynamic.interpreter]
    for (const name of dynamic.needed) dependencies.push(yield* find(name, object, dynamic.runpath))
    for (const dependency of dependencies) {
      // The loader is needed once by path (PT_INTERP) and once by name (libc's DT_NEEDED).
      const real = yield* fs.realPath(onHost(dependency))
      if (realPaths.has(real) || binaries.includes(dependency)) continue
      realPaths.add(real)
      found.push(dependency)
      queue.push(dependency)
    }
  }
  return found as ReadonlyArray<string>
})

/**
 * Whether a file is an ELF program or library that needs others (a dynamic
 * loader or `DT_NEEDED` libraries); a file that is no ELF does not.
 *
 * @since 0.1.0
 * @category resolution
 */
export const needsLibraries = Effect.fn("SharedLibraries.needsLibraries")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  return yield* Effect.scoped(Effect.flatMap(fs.open(path), (file) => {
    const read = Elf.fromFile(file)
    return Effect.map(
      Elf.readDynamic(read),
      (dynamic) => dynamic.interpreter !== undefined || dynamic.needed.length > 0
    )
  })).pipe(Effect.catchTag("ElfError", () => Effect.succeed(false)))
})
