/**
 * Builds the initramfs that boots a bundled init with node as PID 1.
 *
 * Layout: `/init` is the bundle (run by the kernel through its
 * `#!/usr/bin/node` line), `/package.json` marks it as an ES module,
 * `/koffi.node` sits beside it, node is `/usr/bin/node`, the loader and the
 * libraries keep their host paths (so the loader finds them in its default
 * directories and `$ORIGIN` runpaths stay true), extra files go to `/data`,
 * modules to `/lib/modules`, and `/dev/console` exists so that the kernel
 * gives init its stdio before devtmpfs is mounted. `/dev/null` is there for
 * a kernel that has no console at boot (`console=hvc0` with a modular
 * virtio_console): init then starts without stdio, and node opens
 * `/dev/null` in its place or aborts.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import * as Cpio from "../../formats/cpio.ts"
import * as Elf from "../../formats/elf.ts"
import { transportModulesDirectory } from "../../protocol/consoles.ts"
import { guestNodePath, koffiNativeName } from "./Bundle.ts"
import * as CompileCache from "./CompileCache.ts"
import * as SharedLibraries from "./SharedLibraries.ts"
import * as Snapshot from "./Snapshot.ts"

/**
 * A character device node created in the image.
 *
 * @since 0.1.0
 * @category models
 */
export interface Device {
  readonly path: string
  readonly major: number
  readonly minor: number
}

/**
 * What goes into the image.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Where the archive is written. */
  readonly output: string
  /** The bundled init, with its interpreter line. */
  readonly init: Uint8Array
  /** The host's node binary that becomes `/usr/bin/node`. */
  readonly node: string
  /** koffi's native binary, put beside the init. */
  readonly koffiNative?: string | undefined
  /** Host files copied into `/data`; the libraries of ELF executables among them come along. */
  readonly files?: ReadonlyArray<string> | undefined
  /** Kernel modules copied into `/lib/modules`. */
  readonly modules?: ReadonlyArray<string> | undefined
  /** Kernel modules the transport's consoles need, copied into `/lib/modules/transport` for the init to load first. */
  readonly transportModules?: ReadonlyArray<string> | undefined
  /** Where node's libraries are found on the host, at their guest paths: `/` (the host's own) by default. */
  readonly sysroot?: string | undefined
  /** Where the loader looks for libraries: the x86_64 directories by default. */
  readonly librarySearchPath?: ReadonlyArray<string> | undefined
  readonly devices?: ReadonlyArray<Device> | undefined
  /** V8's code cache of the init: with it, `/init` is the launcher that uses it and the bundle is `/init.mjs`. */
  readonly compileCache?: ReadonlyArray<CompileCache.CacheFile> | undefined
  /** A start-up snapshot of the init: with it, `/init` only names the snapshot, and `init` is left out. */
  readonly snapshot?: Uint8Array | undefined
  /** Files at paths of their own: a host file (an ELF one brings its libraries) or bytes. */
  readonly extraFiles?:
    | ReadonlyArray<{ readonly guest: string; readonly source: string | Uint8Array; readonly mode: number }>
    | undefined
}

/**
 * An image written: its size, and every host file it holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Built {
  readonly bytes: number
  readonly sources: ReadonlyArray<string>
}

/**
 * Where the image holds its node: not under /usr, which the host's root
 * (`exec --host-root`) covers, so that a program that is this same node
 * (the vitest pool's worker) runs it from the guest's memory, not over 9p.
 *
 * @since 0.1.0
 * @category constants
 */
export const imageNodePath = "/.effect-sysinit/node"

/**
 * The directory of extra files in the guest.
 *
 * @since 0.1.0
 * @category constants
 */
export const dataDirectory = "/data"

/**
 * The directory of extra modules in the guest.
 *
 * @since 0.1.0
 * @category constants
 */
export const modulesDirectory = "/lib/modules"

/**
 * Writes the image; returns its size and the host files it holds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = Effect.fn("Initramfs.build")(function*(
  options: Options
): Effect.fn.Return<
  Built,
  PlatformError | Cpio.CpioError | Elf.ElfError | SharedLibraries.SharedLibraryNotFound,
  FileSystem.FileSystem | Path.Path
> {
  const path = yield* Path.Path
  const files = options.files ?? []
  const modules = options.modules ?? []
  const elfFiles: Array<string> = []
  const extraFiles = options.extraFiles ?? []
  for (const file of files) if (yield* SharedLibraries.needsLibraries(file)) elfFiles.push(file)
  for (const extra of extraFiles) {
    if (typeof extra.source === "string" && (yield* SharedLibraries.needsLibraries(extra.source))) {
      elfFiles.push(extra.source)
    }
  }
  const sysroot = options.sysroot ?? "/"
  const libraries = yield* SharedLibraries.resolve(
    [
      options.node,
      ...(options.koffiNative === undefined ? [] : [options.koffiNative]),
      ...elfFiles
    ],
    options.librarySearchPath,
    sysroot
  )

  return yield* Effect.scoped(Effect.gen(function*() {
    const writer = yield* Cpio.make(options.output)
    const directories = new Set<string>(["/"])
    const directory = (dir: string, mode?: number): Effect.Effect<void, PlatformError> =>
      Effect.suspend(() => {
        if (directories.has(dir)) return Effect.void
        directories.add(dir)
        return Effect.andThen(directory(path.dirname(dir)), writer.directory(dir, mode))
      })
    const parentOf = (file: string) => directory(path.dirname(file))

    const transportModules = options.transportModules ?? []
    const fixedDirectories = [
      dataDirectory,
      modulesDirectory,
      ...(transportModules.length > 0 ? [transportModulesDirectory] : [])
    ]
    for (const dir of ["/dev", "/proc", "/sys", "/run", "/root", ...fixedDirectories]) {
      yield* directory(dir)
    }
    yield* directory("/tmp", 0o1777)
    yield* writer.characterDevice("/dev/console", 5, 1)
    yield* writer.characterDevice("/dev/null", 1, 3, 0o666)
    for (const device of options.devices ?? []) {
      yield* parentOf(device.path)
      yield* writer.characterDevice(device.path, device.major, device.minor)
    }

    if (options.snapshot !== undefined) {
      yield* writer.file("/init", Snapshot.launcher, 0o755)
      yield* writer.file(Snapshot.guestBlobPath, options.snapshot, 0o644)
    } else if (options.compileCache === undefined) {
      yield* writer.file("/init", options.init, 0o755)
    } else {
      yield* writer.file("/init", CompileCache.launcher, 0o755)
      yield* writer.file(CompileCache.guestBundlePath, options.init, 0o755)
      for (const file of options.compileCache) {
        const guestPath = path.join(CompileCache.guestCacheDirectory, file.path)
        yield* parentOf(guestPath)
        yield* writer.file(guestPath, file.contents, 0o644)
      }
    }
    yield* writer.file("/package.json", new TextEncoder().encode(`{"type":"module"}\n`))
    if (options.koffiNative !== undefined) {
      yield* writer.copyFile(`/${koffiNativeName}`, options.koffiNative, 0o755)
    }
    // node itself where the host's root does not cover it, /usr/bin/node a link to it.
    yield* parentOf(imageNodePath)
    yield* writer.copyFile(imageNodePath, options.node, 0o755)
    yield* parentOf(guestNodePath)
    yield* writer.symlink(guestNodePath, imageNodePath)
    yield* writer.symlink("/bin", "usr/bin")
    for (const library of libraries) {
      yield* parentOf(library)
      yield* writer.copyFile(library, path.join(sysroot, library))
    }
    for (const file of files) yield* writer.copyFile(path.join(dataDirectory, path.basename(file)), file)
    for (const module of modules) yield* writer.copyFile(path.join(modulesDirectory, path.basename(module)), module)
    for (const module of transportModules) {
      yield* writer.copyFile(path.join(transportModulesDirectory, path.basename(module)), module)
    }
    for (const extra of extraFiles) {
      yield* parentOf(extra.guest)
      if (typeof extra.source === "string") yield* writer.copyFile(extra.guest, extra.source, extra.mode)
      else yield* writer.file(extra.guest, extra.source, extra.mode)
    }

    yield* writer.finish
    const sources = [
      options.node,
      ...(options.koffiNative === undefined ? [] : [options.koffiNative]),
      ...libraries.map((library) => path.join(sysroot, library)),
      ...files,
      ...modules,
      ...transportModules,
      ...extraFiles.flatMap((extra) => typeof extra.source === "string" ? [extra.source] : [])
    ]
    return { bytes: yield* writer.size, sources } satisfies Built
  }))
})
