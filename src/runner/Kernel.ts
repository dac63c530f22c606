/**
 * Finds the kernel to boot: the one asked for, else `SYSINIT_KERNEL`, else
 * the distribution kernel that `scripts/fetch-kernel.sh` keeps in the cache
 * (fetched on first use), decompressed when it boots through PVH.
 *
 * @since 0.1.0
 */
import { Config, Data, Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { fileURLToPath } from "node:url"
import * as Elf from "../internal/elf.ts"
import { InvalidInput } from "./Preflight.ts"

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
export const fetchScript: string = fileURLToPath(new URL("../../scripts/fetch-kernel.sh", import.meta.url))

const env = (name: string) => Config.option(Config.String(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/**
 * The cache directory of the fetched kernel: `$SYSINIT_CACHE_DIR/kernel`,
 * else `$XDG_CACHE_HOME/effect-sysinit/kernel`, else
 * `~/.cache/effect-sysinit/kernel`, as in the fetch script.
 *
 * @since 0.1.0
 * @category constants
 */
export const cacheDirectory = Effect.gen(function*() {
  const path = yield* Path.Path
  const explicit = yield* env("SYSINIT_CACHE_DIR")
  if (Option.isSome(explicit)) return path.join(explicit.value, "kernel")
  const xdg = yield* env("XDG_CACHE_HOME")
  const home = yield* env("HOME")
  const base = Option.getOrElse(xdg, () => path.join(Option.getOrElse(home, () => "/root"), ".cache"))
  return path.join(base, "effect-sysinit", "kernel")
})

/**
 * The modules tree of the cached kernel (`…/modules/<release>`), when it is there.
 *
 * @since 0.1.0
 * @category resolution
 */
export const cachedModules = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const cache = yield* cacheDirectory
  const release = yield* fs.readFileString(path.join(cache, "release")).pipe(Effect.option)
  return Option.map(release, (r) => path.join(cache, "modules", r.trim()))
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

const bzImageMagicOffset = 0x202

/**
 * Whether the file is a kernel image QEMU can boot: an x86 bzImage (its
 * setup header says "HdrS" at offset 0x202) or an ELF vmlinux with a PVH
 * entry point.
 *
 * @since 0.1.0
 * @category resolution
 */
export const isKernelImage = Effect.fn("Kernel.isKernelImage")(function*(image: string) {
  const fs = yield* FileSystem.FileSystem
  const magic = yield* Effect.scoped(
    Effect.flatMap(fs.open(image), (file) => file.readAlloc(4, { position: BigInt(bzImageMagicOffset) }))
  ).pipe(Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))
  if (magic !== undefined && new TextDecoder().decode(magic) === "HdrS") return true
  return yield* isPvhKernel(image)
})

/**
 * The kernel image to boot: `explicit` (`--kernel`), else `SYSINIT_KERNEL`,
 * else the cached one, fetched on first use. A kernel asked for that does
 * not exist or is not a kernel image is `InvalidInput` naming where it came
 * from.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = Effect.fn("Kernel.resolve")(function*(
  explicit: string | undefined
): Effect.fn.Return<
  string,
  KernelNotFound | InvalidInput | PlatformError,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const fromEnv = yield* env("SYSINIT_KERNEL")
  const asked = explicit ?? Option.getOrUndefined(fromEnv)
  if (asked !== undefined) {
    const flag = explicit === undefined ? "SYSINIT_KERNEL" : "--kernel"
    if (!(yield* fs.exists(asked))) return yield* new InvalidInput({ flag, reason: `${asked} does not exist` })
    if (yield* isKernelImage(asked)) return asked
    return yield* new InvalidInput({
      flag,
      reason: `${asked} is not a kernel image: give an x86 bzImage (e.g. /boot/vmlinuz-*; "HdrS" at offset 0x202) ` +
        `or an ELF vmlinux with a PVH entry point`
    })
  }
  const cache = yield* cacheDirectory
  const decompressed = path.join(cache, "vmlinux")
  if ((yield* fs.exists(decompressed)) && (yield* isPvhKernel(decompressed))) return decompressed
  const cached = path.join(cache, "vmlinuz")
  if (yield* fs.exists(cached)) return cached
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const printed = yield* spawner.string(ChildProcess.make(fetchScript, [], { stderr: "inherit" })).pipe(
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
 * The modules tree of a kernel image, when the runner knows it: the cached
 * kernel's.
 *
 * @since 0.1.0
 * @category resolution
 */
export const modulesTreeOf = Effect.fn("Kernel.modulesTreeOf")(function*(image: string) {
  const path = yield* Path.Path
  const cache = yield* cacheDirectory
  return path.dirname(path.resolve(image)) === path.resolve(cache) ? yield* cachedModules : Option.none<string>()
})
