/**
 * What the runner writes, and where: the guest's stdout and stderr to its
 * own, its notes and console 0 to stderr under `--verbose`, its verdict,
 * and how a failure becomes an exit code. The guest's colours follow the
 * runner's stdout.
 *
 * @since 0.1.0
 */
import { Console, Effect } from "effect"
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

const usageErrors = new Set(["InvalidInput", "ProgramUnusable"])

/**
 * Ends the command after a failure of its own: input it refuses exits
 * `exitCodes.UsageError`, anything else `exitCodes.RunnerFailed`; one line
 * on stderr says why.
 *
 * @since 0.1.0
 * @category output
 */
export const fail = (error: { readonly _tag: string; readonly message: string }): Effect.Effect<void> =>
  finish({
    code: usageErrors.has(error._tag) ? exitCodes.UsageError : exitCodes.RunnerFailed,
    lines: [`effect-sysinit: ${error.message}`]
  })
