/**
 * The image a run boots: the init (from a V8 start-up snapshot, the bundle
 * with V8's code cache, or the bare bundle), node and its libraries,
 * koffi's binary, the modules the transport's consoles need, and the files
 * and modules asked for; built once per recipe and kept (`ImageCache`).
 *
 * @since 0.1.0
 */
import { Effect, type FileSystem, Option, type Path } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { createHash } from "node:crypto"
import type { Transport } from "../../protocol/consoles.ts"
import { formatBytes, Progress } from "../fetch/Progress.ts"
import type * as Kernel from "../kernel/Kernel.ts"
import * as KernelModules from "../kernel/KernelModules.ts"
import * as Architecture from "../machine/Architecture.ts"
import type * as SourceMapping from "../sourceMapping.ts"
import * as Bundle from "./Bundle.ts"
import * as CompileCache from "./CompileCache.ts"
import * as ImageCache from "./ImageCache.ts"
import * as Initramfs from "./Initramfs.ts"
import * as Snapshot from "./Snapshot.ts"
import * as Userland from "./Userland.ts"

/**
 * How the guest's node starts the init: from a start-up snapshot (`Snapshot`),
 * from the bundle with V8's code cache (`CompileCache`), or from the bare
 * bundle.
 *
 * @since 0.1.0
 * @category models
 */
export type Startup = "snapshot" | "compile-cache" | "bundle"

/**
 * What goes into the image.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The init's .ts or .js file. */
  readonly init: string
  /** The guest's node; the architecture's (`Userland`) by default. */
  readonly node?: string | undefined
  readonly arch: Architecture.Facts
  readonly transport: Transport
  readonly kernel: Kernel.Resolved
  /** "snapshot" by default (the compile cache for an init that cannot be snapshotted); "bundle" for a foreign guest. */
  readonly startup?: Startup | undefined
  readonly snapshot?: Snapshot.Options | undefined
  /** Host files for /data. */
  readonly files?: ReadonlyArray<string> | undefined
  /** Kernel modules for /lib/modules. */
  readonly modules?: ReadonlyArray<string> | undefined
  /** Files at paths of their own. */
  readonly extraFiles?: Initramfs.Options["extraFiles"]
  readonly devices?: ReadonlyArray<Initramfs.Device> | undefined
  /** The runner's notes for `--verbose`. */
  readonly note: (line: string) => Effect.Effect<void>
}

/**
 * An image, ready to boot.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunImage extends ImageCache.Image {
  readonly startup: Startup
  /** The map of the init's bundled code back to its sources, made (by bundling again) only when asked for. */
  readonly sourceMap: Effect.Effect<
    SourceMapping.Generated,
    unknown,
    FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
  >
}

const bytesHash = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/**
 * The image of a run, from the cache when it was built before from the
 * same files.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("Image.make")(function*(options: Options) {
  const arch = options.arch
  const userland = yield* Userland.resolve(arch)
  const node = options.node ?? userland.node
  const asked = options.startup ?? "snapshot"
  const native = Architecture.isHost(arch)
  if (!native && asked !== "bundle") {
    yield* options.note(
      `start-up: the bundle, without snapshot or code cache: the host cannot run the ${arch.name} node that makes them`
    )
  }
  const transportModules = options.kernel.moduleTree === undefined
    ? []
    : yield* KernelModules.closure(options.kernel.moduleTree, arch.transportModules[options.transport])
  const extraFiles = options.extraFiles ?? []
  const recipe = {
    parts: {
      // The layout of the image: one more whenever Initramfs or the guest entries change what an image holds.
      format: 2,
      init: options.init,
      arch: arch.name,
      startup: native ? asked : "bundle",
      snapshot: options.snapshot ?? {},
      sysroot: userland.sysroot,
      extraFiles: extraFiles.map((extra) => ({
        guest: extra.guest,
        mode: extra.mode,
        source: typeof extra.source === "string" ? extra.source : bytesHash(extra.source)
      })),
      devices: options.devices ?? []
    },
    files: [
      node,
      options.init,
      ...(userland.koffiNative === undefined ? [] : [userland.koffiNative]),
      ...transportModules,
      ...(options.files ?? []),
      ...(options.modules ?? [])
    ]
  }
  let startup: Startup = native ? asked : "bundle"
  const progress = yield* Progress
  const image = yield* ImageCache.lookupOrBuild(recipe, (output) =>
    Effect.gen(function*() {
      const started = Date.now()
      yield* progress.stage(
        "image: building the guest's initramfs (node, the init and its start-up snapshot), kept for later runs"
      )
      const snapshot = startup === "snapshot"
        ? yield* Snapshot.make(options.init, node, options.snapshot).pipe(
          Effect.map(Option.some),
          Effect.catchTag("SnapshotError", (error) =>
            Effect.as(
              options.note(
                `start-up: the bundle with V8's code cache, not a snapshot: ${error.message.replaceAll("\n", " ")}`
              ),
              Option.none<Snapshot.Snapshot>()
            ))
        )
        : Option.none<Snapshot.Snapshot>()
      if (startup === "snapshot" && Option.isNone(snapshot)) startup = "compile-cache"
      const bundled = Option.isSome(snapshot) ? undefined : yield* Bundle.bundle(options.init)
      // The bundled koffi's native binary is the host's; a foreign guest gets its own of the same version.
      const hostKoffi = Option.isSome(snapshot) ? snapshot.value.koffiNative : bundled!.koffiNative
      const koffiNative = hostKoffi && (userland.koffiNative ?? hostKoffi)
      const built = yield* Initramfs.build({
        output,
        init: bundled?.code ?? new Uint8Array(),
        node,
        snapshot: Option.getOrUndefined(Option.map(snapshot, (made) => made.blob)),
        compileCache: startup === "compile-cache" ? yield* CompileCache.generate(node, bundled!.code) : undefined,
        koffiNative,
        files: options.files,
        modules: options.modules,
        transportModules,
        sysroot: userland.sysroot,
        librarySearchPath: arch.librarySearchPath,
        devices: options.devices,
        extraFiles
      })
      const inputs = Option.isSome(snapshot) ? snapshot.value.inputs : bundled!.inputs
      yield* progress.stage(
        `image: ${formatBytes(built.bytes)} built in ${((Date.now() - started) / 1000).toFixed(1)} s`
      )
      return { bytes: built.bytes, sources: [...built.sources, ...inputs], meta: { startup } }
    }))
  const made = (image.meta as { readonly startup?: Startup } | undefined)?.startup ?? startup
  const sourceMap: RunImage["sourceMap"] = made === "snapshot"
    ? Snapshot.sourceMapOf(options.init, options.snapshot)
    : Effect.flatMap(
      Bundle.bundle(options.init),
      (bundled) =>
        Effect.map(bundled.sourceMap, (map): SourceMapping.Generated => ({
          names: [`file://${made === "compile-cache" ? CompileCache.guestBundlePath : "/init"}`],
          map,
          lineOffset: bundled.lineOffset,
          sourceRoot: process.cwd()
        }))
    )
  return { ...image, startup: made, sourceMap } satisfies RunImage
})
