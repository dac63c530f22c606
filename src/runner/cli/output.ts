/**
 * What the runner writes, and where: the guest's stdout and stderr to its
 * own, its notes and console 0 to stderr under `--verbose`, its verdict,
 * and how a failure becomes an exit code. The guest's colours follow the
 * runner's stdout. A command line it refuses is two lines on stderr, the
 * flag and what is wrong with it, then where the help is; never the help
 * itself, and nothing on stdout, which is the program's under `exec`.
 *
 * @since 0.1.0
 */
import { Console, Data, Effect } from "effect"
import { type CliError, CliOutput } from "effect/cli"
import { exitCodes } from "../exitCodes.ts"

// A reader that goes away (`| head`) closes our stdout; the guest runs on, its output is dropped.
let stdoutClosed = false

/**
 * Writes a chunk of the guest's stdout to the runner's.
 *
 * @since 0.1.0
 * @category output
 */
export const writeStdout = (chunk: Uint8Array): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (stdoutClosed) return resume(Effect.void)
    if (process.stdout.listenerCount("error") === 0) process.stdout.on("error", () => void (stdoutClosed = true))
    process.stdout.write(chunk, (error) => {
      if (error) stdoutClosed = true
      resume(Effect.void)
    })
  })

/**
 * Writes a chunk of the program's stderr to the runner's.
 *
 * @since 0.1.0
 * @category output
 */
export const writeStderr = (chunk: Uint8Array): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    process.stderr.write(chunk, () => resume(Effect.void))
  })

/**
 * The environment that makes the guest's node colour its output as the
 * runner's stdout would: `FORCE_COLOR` and `NO_COLOR` of the host are
 * passed on; otherwise no colour unless stdout is a terminal. The guest's
 * own stdout is always a terminal (a console), so Node would colour
 * `console.log` into files and CI logs.
 *
 * @since 0.1.0
 * @category output
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
 * The runner's lines for the user: console 0 and its notes only under
 * `--verbose`, warnings always.
 *
 * @since 0.1.0
 * @category output
 */
export const reporters = (verbose: boolean) => ({
  console: (line: string) => verbose ? Console.error(line) : Effect.void,
  note: (line: string) => verbose ? Console.error(`effect-sysinit: ${line}`) : Effect.void,
  warn: (line: string) => Console.error(`effect-sysinit: ${line}`)
})

/**
 * Ends the command with an exit code and lines for stderr.
 *
 * @since 0.1.0
 * @category output
 */
export const finish = (
  verdict: { readonly code: number; readonly lines: ReadonlyArray<string> }
): Effect.Effect<void> =>
  Effect.andThen(
    Effect.sync(() => void (process.exitCode = verdict.code)),
    Effect.forEach(verdict.lines, (line) => Console.error(line), { discard: true })
  )

/**
 * The moments a run reaches, in milliseconds from the command's start (the
 * process's), for `--timings`.
 *
 * @since 0.1.0
 * @category output
 */
export const timings = () => {
  const marks: Array<readonly [string, number]> = []
  return {
    mark: (milestone: string): void => void marks.push([milestone, performance.now()]),
    line: (): string =>
      `effect-sysinit: timings, ms from the command's start: ${
        marks.map(([milestone, at]) => `${milestone} ${at.toFixed(0)}`).join(", ")
      }`
  }
}

/**
 * A command line the runner refuses: the flag or argument (`--memory`,
 * `<init>`; none for one it cannot name) and the value as given, when
 * known, and the whole complaint, e.g. `--memory: "abc" is not a whole
 * number of MiB above 0`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly flag: string | undefined
  readonly value: string | undefined
  readonly message: string
}> {}

const expectation = (expected: string): string => expected.replace(/^Expected:? /, "")

// Effect's own checks say what they found rather than what they expected; these say it our way.
const pathProblem = /^(?:Path|File) (does not exist|is not a file|is not a directory): /

const invalidValue = (error: CliError.InvalidValue): UsageError => {
  const flag = error.kind === "flag" ? `--${error.option}` : `<${error.option}>`
  const refused = (reason: string) => new UsageError({ flag, value: error.value, message: `${flag}: ${reason}` })
  const unvalued = (reason: string) => new UsageError({ flag, value: undefined, message: `${flag}: ${reason}` })
  if (error.value === "") return unvalued(`needs a value (${expectation(error.expected)})`)
  const occurrences = /^(\d+) occurrences$/.exec(error.value)
  if (occurrences !== null && error.expected === "at most 1 value") {
    return unvalued(`given ${occurrences[1]} times; it takes one value`)
  }
  const path = pathProblem.exec(error.expected)
  if (path !== null) return refused(`${error.value} ${path[1]}`)
  if (error.expected.startsWith("omit the value")) {
    return refused(`its negation takes no value, given ${JSON.stringify(error.value)}`)
  }
  const expected = expectation(error.expected)
  return refused(`${JSON.stringify(error.value)} is not ${expected.includes(" | ") ? "one of " : ""}${expected}`)
}

/**
 * What is wrong with a command line that effect/cli refuses, said as the
 * runner says it: the flag or argument, what was given, what it takes.
 *
 * @since 0.1.0
 * @category usage errors
 */
export const usageErrorOf = (error: CliError.NonShowHelpErrors): UsageError => {
  const unnamed = (message: string) => new UsageError({ flag: undefined, value: undefined, message })
  switch (error._tag) {
    case "InvalidValue":
      return invalidValue(error)
    case "UnrecognizedOption": {
      const of = error.command === undefined ? "" : ` of ${error.command.join(" ")}`
      const guess = error.suggestions.length > 0 ? `; did you mean ${error.suggestions.join(" or ")}?` : ""
      return new UsageError({
        flag: error.option,
        value: undefined,
        message: `${error.option}: not a flag${of}${guess}`
      })
    }
    case "MissingOption":
      return new UsageError({
        flag: `--${error.option}`,
        value: undefined,
        message: `--${error.option}: missing, and it is required`
      })
    case "MissingArgument":
      return new UsageError({ flag: `<${error.argument}>`, value: undefined, message: `missing <${error.argument}>` })
    case "UnexpectedArgument":
      return unnamed(
        `${error.arguments.map((argument) => JSON.stringify(argument)).join(", ")}: ` +
          `${error.arguments.length === 1 ? "an argument" : "arguments"} the command does not take`
      )
    case "UnknownSubcommand": {
      const of = error.parent === undefined ? "" : ` of ${error.parent.join(" ")}`
      const guess = error.suggestions.length > 0 ? `; did you mean ${error.suggestions.join(" or ")}?` : ""
      return unnamed(`${JSON.stringify(error.subcommand)} is not a command${of}${guess}`)
    }
    default:
      return unnamed(error.message.split("\n")[0]!)
  }
}

/**
 * Ends the command on a command line it refuses: exit
 * `exitCodes.UsageError`, the complaint on stderr (saying where the flag
 * came from when that was not the command line: `source`), then the
 * command's help to read, e.g. `effect-sysinit: see effect-sysinit exec --help`.
 *
 * @since 0.1.0
 * @category usage errors
 */
export const refuse = (
  commandPath: ReadonlyArray<string>,
  error: UsageError,
  source?: string | undefined
): Effect.Effect<void> =>
  finish({
    code: exitCodes.UsageError,
    lines: [
      `effect-sysinit: ${error.message}${source === undefined ? "" : ` (from ${source})`}`,
      `effect-sysinit: see ${commandPath.join(" ")} --help`
    ]
  })

/**
 * effect/cli's output: help and the version as it writes them, on stdout;
 * for an invocation it refuses, nothing (its default prints the whole help
 * on stdout, then the error): the run fails with the refusal, a
 * `CliError.ShowHelp` carrying it, which `refuse` says in two lines.
 *
 * @since 0.1.0
 * @category usage errors
 */
export const presenter: CliOutput.Presenter = {
  present: (event) => event._tag === "InvalidInvocation" ? Effect.void : CliOutput.defaultPresenter.present(event)
}

// KernelLacksModules: the fix is a flag (--kernel-modules, or another --kernel).
const usageErrors = new Set(["InvalidInput", "ProgramUnusable", "KernelLacksModules"])

/**
 * Ends the command after a failure of its own: input it refuses (its
 * `InvalidInput` and `ProgramUnusable`, found after parsing) fails again
 * as a `UsageError`, for the command line to say with the command's name;
 * anything else exits `exitCodes.RunnerFailed` with one line on stderr
 * that says why.
 *
 * @since 0.1.0
 * @category output
 */
export const fail = (
  error: { readonly _tag: string; readonly message: string; readonly flag?: string }
): Effect.Effect<void, UsageError> =>
  usageErrors.has(error._tag)
    ? Effect.fail(new UsageError({ flag: error.flag, value: undefined, message: error.message }))
    : finish({ code: exitCodes.RunnerFailed, lines: [`effect-sysinit: ${error.message}`] })
