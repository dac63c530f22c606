/**
 * Finds the kernel to boot: the one asked for (`--kernel`, else
 * `SYSINIT_KERNEL`), a kernel image file or a name (`6.1`, `6.12`,
 * `6.12-cloud`, … : Debian's newest of that series and flavour, fetched
 * once into the cache with its modules, see `KernelCache`), else the
 * default, Debian's 6.1.
 *
 * @since 0.1.0
 */
import { Config, Data, Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { ChildProcessSpawner } from "effect/process"
import * as Cache from "../cache.ts"
import * as Architecture from "../machine/Architecture.ts"
import { InvalidInput } from "../machine/Preflight.ts"
import * as KernelCache from "./KernelCache.ts"
import * as KernelImage from "./KernelImage.ts"
import * as KernelNames from "./KernelNames.ts"

/**
 * No kernel could be found or fetched.
 *
 * @since 0.1.0
 * @category errors
 */
export class KernelNotFound extends Data.TaggedError("KernelNotFound")<{ readonly reason: string }> {
  override get message(): string {
    return `no kernel: ${this.reason}; give one with --kernel FILE or SYSINIT_KERNEL=FILE ` +
      `(a bzImage such as /boot/vmlinuz-*), or a name of Debian's: --kernel NAME or SYSINIT_KERNEL=NAME (6.1, 6.12, 6.12-cloud, …)`
  }
}

/**
 * The kernel booted when none is asked for: Debian's 6.1 series.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultName: string = KernelNames.defaultName

const env = (name: string) => Config.option(Config.String(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/**
 * The cache directory of an architecture's default kernel: `kernel` in the
 * cache for x86_64, `kernel-<debian name>` (`kernel-arm64`) for the others;
 * a kernel by name has its own (`KernelCache.directoryFor`).
 *
 * @since 0.1.0
 * @category constants
 */
export const cacheDirectoryFor = (arch: Architecture.Facts) => KernelCache.directoryFor(KernelNames.defaultName, arch)

/**
 * The cache directory of the default x86_64 kernel.
 *
 * @since 0.1.0
 * @category constants
 */
export const cacheDirectory = cacheDirectoryFor(Architecture.all.x86_64)

/** The module tree of a cache entry's directory (`…/modules/<release>`), when it has a release. */
const treeOfEntry = Effect.fnUntraced(function*(directory: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const release = yield* fs.readFileString(path.join(directory, "release")).pipe(Effect.option)
  return Option.map(release, (r) => path.join(directory, "modules", r.trim()))
})

/**
 * The modules tree of an architecture's cached default kernel (`…/modules/<release>`), when it is there.
 *
 * @since 0.1.0
 * @category resolution
 */
export const cachedModulesFor = Effect.fn("Kernel.cachedModulesFor")(function*(arch: Architecture.Facts) {
  return yield* treeOfEntry(yield* cacheDirectoryFor(arch))
})

/**
 * The modules tree of the cached default x86_64 kernel, when it is there.
 *
 * @since 0.1.0
 * @category resolution
 */
export const cachedModules = cachedModulesFor(Architecture.all.x86_64)

/**
 * The modules tree of a kernel image, when it is one of the cache's kernels
 * (an entry's `vmlinuz` or `vmlinux`); a kernel given by path elsewhere
 * comes with no known tree.
 *
 * @since 0.1.0
 * @category resolution
 */
export const modulesOf = Effect.fn("Kernel.modulesOf")(function*(image: string, _arch?: Architecture.Facts) {
  const path = yield* Path.Path
  const directory = path.dirname(path.resolve(image))
  if (path.dirname(directory) !== (yield* Cache.root) || !path.basename(directory).startsWith("kernel")) {
    return Option.none<string>()
  }
  return yield* treeOfEntry(directory)
})

/**
 * Whether QEMU can boot the file as an uncompressed kernel through its PVH
 * entry point (`KernelImage.isPvhKernel`).
 *
 * @since 0.1.0
 * @category resolution
 */
export const isPvhKernel = KernelImage.isPvhKernel

/**
 * Whether the file is a kernel image QEMU can boot for the architecture
 * (`KernelImage.isKernelImage`).
 *
 * @since 0.1.0
 * @category resolution
 */
export const isKernelImage = KernelImage.isKernelImage

/**
 * A kernel to boot: its image, and its module tree when known (the cached
 * kernel's, or `--kernel-modules`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly image: string
  readonly moduleTree: string | undefined
}

/** The names apt has, for a refusal: "kernels by name: 6.1, 6.12, …", or nothing when apt cannot say. */
const namesHint = (arch: Architecture.Facts) =>
  KernelNames.available(arch.debian).pipe(
    Effect.map((names) => `; kernels by name: ${names.map((named) => named.name).join(", ")}`),
    Effect.orElseSucceed(() => "")
  )

/**
 * The kernel to boot with its module tree: `explicit` (`--kernel`), else
 * `$SYSINIT_KERNEL` (for x86_64 guests), else the default (Debian's 6.1).
 * Each is a kernel image file, or a name (`6.12`, `6.12-cloud`) of a
 * kernel of the cache, fetched on first use. A file asked for that does not
 * exist or is not a kernel image of the architecture, or a name Debian
 * does not have, is `InvalidInput` naming where it came from.
 *
 * @since 0.1.0
 * @category resolution
 */
export const find = Effect.fn("Kernel.find")(function*(
  explicit: string | undefined,
  arch: Architecture.Facts = Architecture.all.x86_64
): Effect.fn.Return<
  Resolved,
  KernelNotFound | InvalidInput | PlatformError,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  // One variable names one kernel: of the default architecture.
  const fromEnv = arch === Architecture.all.x86_64 ? yield* env("SYSINIT_KERNEL") : Option.none<string>()
  const asked = explicit ?? Option.getOrUndefined(fromEnv)
  const flag = explicit === undefined ? "SYSINIT_KERNEL" : "--kernel"
  const byName = (name: string, source: string) =>
    KernelCache.ensure(name, arch, source).pipe(
      Effect.map((entry): Resolved => ({ image: entry.image, moduleTree: entry.moduleTree })),
      Effect.catchTag("KernelFetchFailed", (error) => Effect.fail(new KernelNotFound({ reason: error.message })))
    )
  if (asked === undefined) {
    return yield* byName(KernelNames.defaultName, "the default kernel").pipe(
      Effect.catchTag("InvalidInput", (error) => Effect.fail(new KernelNotFound({ reason: error.message })))
    )
  }
  if (yield* fs.exists(asked)) {
    const image = path.resolve(asked)
    if (!(yield* isKernelImage(image, arch))) {
      return yield* new InvalidInput({
        flag,
        reason: `${asked} is not a kernel image for ${arch.name}: give ${KernelImage.imageHint[arch.name]}`
      })
    }
    return { image, moduleTree: Option.getOrUndefined(yield* modulesOf(image, arch)) }
  }
  if (KernelNames.looksLikeName(asked)) return yield* byName(asked, flag)
  if (asked.includes("/")) return yield* new InvalidInput({ flag, reason: `${asked} does not exist` })
  return yield* new InvalidInput({
    flag,
    reason: `${asked} is neither a file nor a kernel's name${yield* namesHint(arch)}`
  })
})

/**
 * The kernel image to boot (`find`'s image).
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = Effect.fn("Kernel.resolve")(function*(
  explicit: string | undefined,
  arch: Architecture.Facts = Architecture.all.x86_64
) {
  return (yield* find(explicit, arch)).image
})
