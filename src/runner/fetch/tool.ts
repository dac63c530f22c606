/**
 * Runs a host tool of a fetch (apt-get, npm, tar) to its end: its stdout,
 * or a `ToolFailed` with its exit code and the last lines of its stderr.
 * The child is killed when the fetch is interrupted.
 */
import { Data, Effect, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

export class ToolFailed extends Data.TaggedError("ToolFailed")<{ readonly command: string; readonly reason: string }> {
  override get message(): string {
    return `${this.command}: ${this.reason}`
  }
}

const lastLines = (text: string): string => text.trim().split("\n").slice(-3).join("; ")

export const run = Effect.fnUntraced(function*(
  command: string,
  args: ReadonlyArray<string>,
  options: {
    readonly cwd?: string | undefined
    /** What is missing when the tool is not found. */
    readonly missing: string
  }
): Effect.fn.Return<string, ToolFailed, ChildProcessSpawner.ChildProcessSpawner> {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const shown = [command, ...args].join(" ")
  return yield* Effect.scoped(Effect.gen(function*() {
    const handle = yield* spawner.spawn(ChildProcess.make(command, args, { cwd: options.cwd, stdin: "ignore" }))
    const [stdout, stderr, exitCode] = yield* Effect.all([
      handle.stdout.pipe(Stream.decodeText(), Stream.mkString),
      handle.stderr.pipe(Stream.decodeText(), Stream.mkString),
      handle.exitCode
    ], { concurrency: 3 })
    if (exitCode !== 0) {
      return yield* new ToolFailed({ command: shown, reason: `exited with ${exitCode}: ${lastLines(stderr)}` })
    }
    return stdout
  })).pipe(
    Effect.catchTag("PlatformError", (error) =>
      Effect.fail(
        new ToolFailed({
          command: shown,
          reason: error.reason._tag === "NotFound" ? `${command} not found: ${options.missing}` : error.message
        })
      ))
  )
})
