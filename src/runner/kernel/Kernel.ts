/**
 * Finds the kernel to boot: the one asked for, else `SYSINIT_KERNEL`, else
 * the distribution kernel that `libexec/fetch-kernel.sh` keeps in the cache
 * (fetched on first use), decompressed when it boots through PVH.
 *
 * @since 0.1.0
 */
import { Config, Data, Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as Elf from "../../formats/elf.ts"
import * as Cache from "../cache.ts"
import * as Architecture from "../machine/Architecture.ts"
import { InvalidInput } from "../machine/Preflight.ts"
import { libexec } from "../packageFiles.ts"

/**
 * No kernel could be found or fetched.
 *
 * @since 0.1.0
 * @category errors
 */
export class KernelNotFound extends Data.TaggedError("KernelNotFound")<{ readonly reason: string }> {
  override get message(): string {
    return `no kernel: ${this.reason}; give one with --kernel FILE or SYSINIT_KERNEL=FILE ` +
      `(a bzImage such as /boot/vmlinuz-*), or fetch Debian's with sh ${fetchScript}`
  }
}

/**
 * The script that fetches the kernel into the cache and prints its path.
 *
 * @since 0.1.0
 * @category constants
 */
export const fetchScript: string = libexec("fetch-kernel.sh")

const env = (name: string) => Config.option(Config.String(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/**
 * The cache directory of an architecture's fetched kernel: `kernel` in the
 * cache for x86_64, `kernel-<debian name>` (`kernel-arm64`) for the others.
 *
 * @since 0.1.0
 * @category constants
 */
export const cacheDirectoryFor = (arch: Architecture.Facts) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    return path.join(yield* Cache.root, arch.debian === "amd64" ? "kernel" : `kernel-${arch.debian}`)
  })

/**
 * The cache directory of the fetched x86_64 kernel.
 *
 * @since 0.1.0
 * @category constants
 */
export const cacheDirectory = cacheDirectoryFor(Architecture.all.x86_64)

/**
 * The modules tree of an architecture's cached kernel (`…/modules/<release>`), when it is there.
 *
 * @since 0.1.0
 * @category resolution
 */
export const cachedModulesFor = Effect.fn("Kernel.cachedModulesFor")(function*(arch: Architecture.Facts) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const cache = yield* cacheDirectoryFor(arch)
  const release = yield* fs.readFileString(path.join(cache, "release")).pipe(Effect.option)
  return Option.map(release, (r) => path.join(cache, "modules", r.trim()))
})

/**
 * The modules tree of the cached x86_64 kernel, when it is there.
 *
 * @since 0.1.0
 * @category resolution
 */
export const cachedModules = cachedModulesFor(Architecture.all.x86_64)

/**
 * The modules tree of a kernel image, when it is an architecture's cached
 * kernel; a kernel given by path comes with no known tree.
 *
 * @since 0.1.0
 * @category resolution
 */
export const modulesOf = Effect.fn("Kernel.modulesOf")(function*(image: string, arch: Architecture.Facts) {
  const path = yield* Path.Path
  const cache = yield* cacheDirectoryFor(arch)
  if (path.dirname(path.resolve(image)) !== cache) return Option.none<string>()
  return yield* cachedModulesFor(arch)
})

const XEN_ELFNOTE_PHYS32_ENTRY = 18

/**
 * Whether QEMU can boot the file as an uncompressed kernel through its PVH
 * entry point, which skips the firmware's setup and the kernel's
 * self-decompression (seconds under TCG).
 *
 * @since 0.1.0
 * @category resolution
 */
export const isPvhKernel = Effect.fn("Kernel.isPvhKernel")(function*(image: string) {
  const fs = yield* FileSystem.FileSystem
  return yield* Effect.scoped(Effect.flatMap(fs.open(image), (file) => Elf.readNotes(Elf.fromFile(file)))).pipe(
    Effect.map((notes) => notes.some((note) => note.name === "Xen" && note.type === XEN_ELFNOTE_PHYS32_ENTRY)),
    Effect.orElseSucceed(() => false)
  )
})

const imageMagic: Readonly<Record<Architecture.Architecture, { readonly offset: number; readonly magic: string }>> = {
  // The setup header of a bzImage.
  x86_64: { offset: 0x202, magic: "HdrS" },
  // The header of an arm64 Image (Debian's vmlinuz is one, with a PE header for EFI in front).
  aarch64: { offset: 0x38, magic: "ARMd" }
}

/**
 * Whether the file is a kernel image QEMU can boot for the architecture: an
 * x86 bzImage (its setup header says "HdrS" at offset 0x202) or an ELF
 * vmlinux with a PVH entry point; an arm64 Image ("ARMd" at offset 0x38).
 *
 * @since 0.1.0
 * @category resolution
 */
export const isKernelImage = Effect.fn("Kernel.isKernelImage")(function*(
  image: string,
  arch: Architecture.Facts = Architecture.all.x86_64
) {
  const fs = yield* FileSystem.FileSystem
  const { magic, offset } = imageMagic[arch.name]
  const found = yield* Effect.scoped(
    Effect.flatMap(fs.open(image), (file) => file.readAlloc(magic.length, { position: BigInt(offset) }))
  ).pipe(Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))
  if (found !== undefined && new TextDecoder().decode(found) === magic) return true
  return arch.name === "x86_64" && (yield* isPvhKernel(image))
})

const kernelImageHint: Readonly<Record<Architecture.Architecture, string>> = {
  x86_64: `an x86 bzImage (e.g. /boot/vmlinuz-*; "HdrS" at offset 0x202) or an ELF vmlinux with a PVH entry point`,
  aarch64: `an arm64 Image (e.g. Debian's /boot/vmlinuz-*-arm64; "ARMd" at offset 0x38)`
}

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

/**
 * The kernel image to boot: `explicit` (`--kernel`), else `$SYSINIT_KERNEL`
 * (for x86_64 guests), else the architecture's cached kernel, fetched on
 * first use. A kernel asked for that does not exist or is not a kernel
 * image of the architecture is `InvalidInput` naming where it came from.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = Effect.fn("Kernel.resolve")(function*(
  explicit: string | undefined,
  arch: Architecture.Facts = Architecture.all.x86_64
): Effect.fn.Return<
  string,
  KernelNotFound | InvalidInput | PlatformError,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  // One variable names one kernel: of the default architecture.
  const fromEnv = arch === Architecture.all.x86_64 ? yield* env("SYSINIT_KERNEL") : Option.none<string>()
  const asked = explicit ?? Option.getOrUndefined(fromEnv)
  if (asked !== undefined) {
    const flag = explicit === undefined ? "SYSINIT_KERNEL" : "--kernel"
    if (!(yield* fs.exists(asked))) return yield* new InvalidInput({ flag, reason: `${asked} does not exist` })
    if (yield* isKernelImage(asked, arch)) return asked
    return yield* new InvalidInput({
      flag,
      reason: `${asked} is not a kernel image for ${arch.name}: give ${kernelImageHint[arch.name]}`
    })
  }
  const cache = yield* cacheDirectoryFor(arch)
  const decompressed = path.join(cache, "vmlinux")
  if ((yield* fs.exists(decompressed)) && (yield* isPvhKernel(decompressed))) return decompressed
  const cached = path.join(cache, "vmlinuz")
  if (yield* fs.exists(cached)) return cached
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const printed = yield* spawner.string(ChildProcess.make(fetchScript, [arch.debian], { stderr: "inherit" })).pipe(
    Effect.mapError((error) => new KernelNotFound({ reason: `fetching Debian's kernel failed (${error.message})` }))
  )
  const fetched = printed.trim().split("\n").at(-1) ?? ""
  if (fetched !== "" && (yield* fs.exists(fetched))) {
    return fetched.endsWith("vmlinux") && !(yield* isPvhKernel(fetched)) ? path.join(cache, "vmlinuz") : fetched
  }
  return yield* new KernelNotFound({
    reason: `fetching Debian's kernel failed (${fetchScript} printed no kernel path)`
  })
})

/**
 * The kernel to boot (`resolve`) with its module tree (`modulesOf`).
 *
 * @since 0.1.0
 * @category resolution
 */
export const find = Effect.fn("Kernel.find")(function*(
  explicit: string | undefined,
  arch: Architecture.Facts = Architecture.all.x86_64
) {
  const image = yield* resolve(explicit, arch)
  const tree = yield* modulesOf(image, arch)
  return { image, moduleTree: Option.getOrUndefined(tree) } satisfies Resolved
})
