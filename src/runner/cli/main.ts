/**
 * The `effect-sysinit` command: its subcommands, the flag sources of `exec`
 * (its command line, `.effect-sysinit-args`, `$EFFECT_SYSINIT_ARGS`), and
 * how the process ends (signals, a parent that goes away, a command line
 * it refuses).
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, FileSystem, Runtime } from "effect"
import { CliError, CliOutput, Command } from "effect/cli"
import * as os from "node:os"
import { signalStatus } from "../exitCodes.ts"
import { bundleCommand } from "./bundleCommand.ts"
import * as ExecCommand from "./execCommand.ts"
import * as FlagSources from "./flagSources.ts"
import * as Output from "./output.ts"
import { shellCommand } from "./shellCommand.ts"
import { vmCommand } from "./vmCommand.ts"

/**
 * The `effect-sysinit` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("effect-sysinit").pipe(
  Command.withDescription("Write and run the init of throwaway Linux VMs with Effect"),
  Command.withSubcommands([vmCommand, ExecCommand.execCommand, shellCommand, bundleCommand])
)

/**
 * The flags of `exec` by name, for splitting its command line before it is
 * parsed; the CLI's global `--log-level` among them.
 *
 * @since 0.1.0
 * @category flags
 */
export const execFlagTable: FlagSources.FlagTable = {
  ...FlagSources.flagTable(ExecCommand.flags),
  "log-level": { value: true, repeatable: false }
}

const version = "0.1.0"

/**
 * Where a flag of `exec` came from, when not from the command line: its
 * source's name, e.g. `.effect-sysinit-args`; none when it came from the
 * command line or cannot be told (a repeatable flag in several sources,
 * refused without its value).
 *
 * @since 0.1.0
 * @category flags
 */
export type FlagSourceOf = (flag: string | undefined, value: string | undefined) => string | undefined

const fromTheCommandLine: FlagSourceOf = () => undefined

const valueOf = (flag: FlagSources.FlagTokens): string | undefined => {
  if (flag.tokens.length > 1) return flag.tokens[1]
  const at = flag.tokens[0]!.indexOf("=")
  return at < 0 ? undefined : flag.tokens[0]!.slice(at + 1)
}

/**
 * The source of a flag among the sources of `exec`'s flags, highest
 * precedence first (as `FlagSources.mergeFlags` takes them): the first that
 * gave it (with that value, when known), as a flag given once comes from
 * the highest source that has it.
 *
 * @since 0.1.0
 * @category flags
 */
export const flagSourceOf = (
  sources: ReadonlyArray<{ readonly name: string | undefined; readonly flags: ReadonlyArray<FlagSources.FlagTokens> }>,
  table: FlagSources.FlagTable
): FlagSourceOf =>
(flag, value) => {
  if (flag === undefined || !flag.startsWith("-")) return undefined
  const name = flag.replace(/^--?/, "")
  const giving = sources.filter((source) =>
    source.flags.some((given) => given.name === name && (value === undefined || valueOf(given) === value))
  )
  if (value === undefined && table[name]?.repeatable === true && giving.length > 1) return undefined
  return giving[0]?.name
}

const subcommandNames = new Set(command.subcommands.flatMap((group) => group.commands.map(({ name }) => name)))

// A handler ran, so the command line parsed: its first word that names a subcommand is the subcommand.
const commandPathOf = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  const subcommand = argv.find((arg) => subcommandNames.has(arg))
  return subcommand === undefined ? [command.name] : [command.name, subcommand]
}

const isRefusedInvocation = (error: unknown): error is CliError.ShowHelp =>
  CliError.isCliError(error) && error._tag === "ShowHelp" && error.errors.length > 0

// The arguments `exec` runs with, its flags from its three sources, and where each flag came from.
const execArguments = Effect.fnUntraced(function*(args: ReadonlyArray<string>) {
  const fs = yield* FileSystem.FileSystem
  const commandLine = FlagSources.splitArgs(args, execFlagTable)
  const fileText = yield* fs.readFileString(FlagSources.argsFile).pipe(Effect.orElseSucceed(() => ""))
  const fromFile = FlagSources.splitArgs(FlagSources.parseArgsFile(fileText, process.env), execFlagTable).flags
  const fromEnv = FlagSources.splitArgs(
    FlagSources.parseArgsVariable(process.env[FlagSources.argsVariable]),
    execFlagTable
  ).flags
  const flags = FlagSources.mergeFlags(commandLine.flags, fromFile, fromEnv, execFlagTable)
  return {
    // Everything from the program on is an operand: the program's flags are not ours.
    args: ["exec", ...flags, "--", ...commandLine.program],
    sourceOf: flagSourceOf([
      { name: undefined, flags: commandLine.flags },
      { name: FlagSources.argsFile, flags: fromFile },
      { name: `$${FlagSources.argsVariable}`, flags: fromEnv }
    ], execFlagTable)
  }
})

/**
 * Runs the command on `argv` (the arguments after node's and the script's).
 * A command line it refuses, while parsing or after (`Output.UsageError`),
 * is said in two lines on stderr (`Output.refuse`) and exits with
 * `exitCodes.UsageError`; the help is printed only when asked for
 * (`--help`, or no command). The exit code is `process.exitCode`'s.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { args, sourceOf } = argv[0] === "exec"
      ? yield* execArguments(argv.slice(1))
      : { args: argv, sourceOf: fromTheCommandLine }
    const refuse = (commandPath: ReadonlyArray<string>, error: Output.UsageError) =>
      Output.refuse(commandPath, error, sourceOf(error.flag, error.value))
    return yield* Command.runWith(command, { version })(args).pipe(
      Effect.catchIf(isRefusedInvocation, (error) => refuse(error.commandPath, Output.usageErrorOf(error.errors[0]!))),
      Effect.catchTag("UsageError", (error) => refuse(commandPathOf(argv), error))
    )
  }).pipe(Effect.provide(CliOutput.layerPresenter(Output.presenter)))

/**
 * Runs the command on the process's arguments (`run`).
 *
 * @since 0.1.0
 * @category running
 */
export const main = Effect.suspend(() => run(process.argv.slice(2)))

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
        process.exit(signalStatus(os.constants.signals[stoppedBy]))
      }
      if (stoppedBy !== undefined || code !== 0) process.exit(code)
    })
  })
})
