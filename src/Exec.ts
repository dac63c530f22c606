/**
 * Running a program as a child of PID 1, as virtrun's default init runs its
 * `/main`: the program's exit code becomes the run's, and a program killed by
 * a signal (the OOM killer, SIGKILL, SIGSEGV) fails the run with a typed
 * error that names the signal, so that no exit code is reported.
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import type { Scope } from "effect"
import { setupHostPipes } from "./HostPipe.ts"
import { loadModules, type LoadModulesError } from "./Kmod.ts"
import { type ChildEnd, NodeProcess } from "./NodeProcess.ts"
import { stderrPort, stdoutPort } from "./protocol/consoles.ts"
import { type ExecSpec, isExecSpec, runModulesDirectory, runShareMountPoint, runShareTag } from "./protocol/execSpec.ts"
import { mountShare } from "./Share.ts"
import type { State } from "./State.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"
import { setExitCode } from "./Sysinit.ts"

/**
 * How a program ended.
 *
 * @since 0.1.0
 * @category models
 */
export type { ChildEnd }

/**
 * The program was killed by a signal, so it has no exit code.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProgramKilled extends Data.TaggedError("ProgramKilled")<{
  readonly command: string
  readonly signal: string
}> {
  override get message(): string {
    return `${this.command} was killed by ${this.signal}`
  }
}

/**
 * Where a program runs and what it gets.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProgramOptions {
  /** Working directory; the init's own by default. */
  readonly cwd?: string | undefined
  /** The program's whole environment; the init's own (as set by `Env.setEnv`) by default. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Descriptor for the program's stdout; the init's stdout (1) by default. */
  readonly stdout?: number | undefined
  /** Descriptor for the program's stderr; the init's stderr (2, console 0) by default. */
  readonly stderr?: number | undefined
}

/**
 * Runs `command` with `args` as a child of the init and waits for its end;
 * stdin is `/dev/null`. A program that cannot start fails with the errno of
 * exec (`ENOENT`, `EACCES`, …). Interrupted, it kills the program and waits
 * for it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Exec, Layer } from "effect-sysinit"
 *
 * const machine = Layer.memory({ programs: { "/bin/true": () => ({ _tag: "Exited", code: 0 }) } })
 *
 * const program = Effect.gen(function*() {
 *   console.log(yield* Exec.runProgram("/bin/true", ["--help"]))
 *   const error = yield* Effect.flip(Exec.runProgram("/bin/missing", []))
 *   console.log(error.message)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(machine)))
 * // prints: { _tag: 'Exited', code: 0 }
 * // prints: spawn "/bin/missing": ENOENT (no such file or directory)
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const runProgram = Effect.fn("Exec.runProgram")(function*(
  command: string,
  args: ReadonlyArray<string>,
  options: ProgramOptions = {}
): Effect.fn.Return<ChildEnd, SyscallError, NodeProcess> {
  const nodeProcess = yield* NodeProcess
  return yield* nodeProcess.runChild({
    command,
    args,
    cwd: options.cwd,
    env: options.env,
    stdout: options.stdout ?? 1,
    stderr: options.stderr ?? 2
  })
})

/**
 * Options of `withProgram`: those of `runProgram`, whose stdout and stderr
 * default to host pipes here.
 *
 * @since 0.1.0
 * @category models
 */
export interface WithProgramOptions extends ProgramOptions {
  /**
   * The host pipe of the program's stderr: console 2 by default, as the
   * runner's `exec` reads it; with `false`, or when the host connected no
   * such console, stderr stays on console 0.
   */
  readonly stderrPort?: number | false | undefined
}

/**
 * A step of `Sysinit.run`: runs the program (`runProgram`) with its stdout on
 * the host's console 1 and its stderr on console 2 when the host connected
 * them, and sets the run's exit code to the program's. A program killed by a
 * signal fails the step with `ProgramKilled`: the run reports no exit code and
 * its log names the signal.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Exec, Layer, Sysinit } from "effect-sysinit"
 *
 * const machine = Layer.memory({
 *   consoles: { transport: "serial", ports: [0, 1, 2] },
 *   programs: {
 *     "/exec/app": () => ({ _tag: "Exited", code: 42 }),
 *     "/exec/crash": () => ({ _tag: "Killed", signal: "SIGSEGV" })
 *   }
 * })
 *
 * const exited = Effect.gen(function*() {
 *   const code = yield* Sysinit.runSteps(Exec.withProgram("/exec/app", ["a b"]))
 *   console.log(`exit code ${Option.getOrThrow(code)}`)
 * })
 * const killed = Effect.gen(function*() {
 *   const error = yield* Effect.flip(Sysinit.runSteps(Exec.withProgram("/exec/crash", [])))
 *   console.log(error.message)
 * })
 *
 * // Each run on a fresh machine: a run mounts /dev, /proc and /sys first.
 * await Effect.runPromise(exited.pipe(Effect.provide(machine)))
 * await Effect.runPromise(killed.pipe(Effect.provide(machine)))
 * // prints: exit code 42
 * // prints: /exec/crash was killed by SIGSEGV
 * ```
 *
 * @since 0.1.0
 * @category steps
 */
export const withProgram = (
  command: string,
  args: ReadonlyArray<string>,
  options: WithProgramOptions = {}
): Effect.Effect<
  void,
  SyscallError | LoadModulesError | ProgramKilled,
  Syscalls | NodeProcess | State | Scope.Scope
> =>
  Effect.gen(function*() {
    const pipes = yield* setupHostPipes
    const pipeFd = (port: number | false) => port === false ? undefined : pipes.find((pipe) => pipe.port === port)?.fd
    const end = yield* runProgram(command, args, {
      ...options,
      stdout: options.stdout ?? pipeFd(stdoutPort),
      stderr: options.stderr ?? pipeFd(options.stderrPort ?? stderrPort)
    })
    if (end._tag === "Killed") return yield* new ProgramKilled({ command, signal: end.signal })
    yield* setExitCode(end.code)
  })

/**
 * What the runner's `effect-sysinit exec` asks of its built-in init: the
 * program, its arguments, working directory and environment, and the host
 * directories to mount.
 *
 * @since 0.1.0
 * @category models
 */
export type { ExecSpec }

/**
 * The run the init was sent is not an exec description.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidExecSpec extends Data.TaggedError("InvalidExecSpec")<{ readonly reason: string }> {
  override get message(): string {
    return `the run is not an exec description: ${this.reason}`
  }
}

/**
 * The exec description of a run (`Restore.awaitRun`'s message), checked.
 *
 * @since 0.1.0
 * @category operations
 */
export const execSpecOf = (run: unknown): Effect.Effect<ExecSpec, InvalidExecSpec> =>
  isExecSpec(run)
    ? Effect.succeed(run)
    : Effect.fail(
      new InvalidExecSpec({ reason: `${JSON.stringify(run)?.slice(0, 200)} has no command, args or shares` })
    )

/**
 * Puts this run's files in place: writes those the run carries, or mounts
 * the run's share read-only and links each file the description names at
 * its own path (when the path is free: the image's own files stay), then
 * loads the run's modules (`--add-module`). Nothing to do when the files are
 * in the initramfs.
 *
 * @since 0.1.0
 * @category operations
 */
export const placeRunFiles = Effect.fn("Exec.placeRunFiles")(function*(spec: ExecSpec) {
  const syscalls = yield* Syscalls
  for (const file of spec.inlineFiles ?? []) {
    yield* syscalls.mkdirAll(file.path.slice(0, file.path.lastIndexOf("/")) || "/", 0o755)
    yield* syscalls.writeFile(file.path, Buffer.from(file.data, "base64"), file.mode)
  }
  if (spec.runFiles !== undefined) {
    yield* mountShare({ tag: runShareTag, guest: runShareMountPoint, readOnly: true })
    for (const file of spec.runFiles) {
      const free = yield* Effect.result(syscalls.fileType(file))
      if (free._tag === "Success") continue
      yield* syscalls.mkdirAll(file.slice(0, file.lastIndexOf("/")) || "/", 0o755)
      yield* syscalls.symlink(`${runShareMountPoint}${file}`, file)
    }
  }
  if (spec.modules === true) yield* loadModules(`${runModulesDirectory}/*`)
})
