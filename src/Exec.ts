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
import {
  type ExecSpec,
  isExecSpec,
  runModulesDirectory,
  runShareMountPoint,
  runShareTag,
  type TerminalSpec
} from "./protocol/execSpec.ts"
import { followControl } from "./Restore.ts"
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
  /** Descriptor for the program's stdin; `/dev/null` by default. */
  readonly stdin?: number | undefined
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
    stdin: options.stdin,
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
  /** A file the program reads as its stdin (`stdin` gives a descriptor instead); `/dev/null` by default. */
  readonly stdinFile?: string | undefined
}

/** The run's exit code is the program's; a program killed by a signal has none, and fails the run naming it. */
const endOfProgram = (command: string, end: ChildEnd) =>
  end._tag === "Killed" ? Effect.fail(new ProgramKilled({ command, signal: end.signal })) : setExitCode(end.code)

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
    const syscalls = yield* Syscalls
    const pipes = yield* setupHostPipes
    const pipeFd = (port: number | false) => port === false ? undefined : pipes.find((pipe) => pipe.port === port)?.fd
    const stdinFile = options.stdinFile
    const stdin = options.stdin ?? (stdinFile === undefined ? undefined : yield* Effect.acquireRelease(
      syscalls.openConsoleForReading(stdinFile),
      (fd) => Effect.ignore(syscalls.close(fd))
    ))
    const end = yield* runProgram(command, args, {
      ...options,
      stdin,
      stdout: options.stdout ?? pipeFd(stdoutPort),
      stderr: options.stderr ?? pipeFd(options.stderrPort ?? stderrPort)
    })
    yield* endOfProgram(command, end)
  })

/**
 * How `withTerminalProgram` starts a program in a session of its own whose
 * controlling terminal is its stdin: util-linux's `setsid --ctty`, found in
 * the program's `PATH` (Node cannot make a child a session leader with a
 * terminal before it runs the program); with `--wait`, the exit code stays
 * the program's should setsid have to fork.
 *
 * @since 0.1.0
 * @category constants
 */
export const sessionLeaderCommand: readonly [string, ...Array<string>] = ["setsid", "--ctty", "--wait"]

/**
 * Options of `withTerminalProgram`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TerminalProgramOptions {
  /** Working directory; the init's own by default. */
  readonly cwd?: string | undefined
  /** The program's whole environment; the init's own (as set by `Env.setEnv`) by default. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** The console the program runs on, and its size at the start. */
  readonly terminal: TerminalSpec
}

/**
 * A step of `Sysinit.run`: runs the program on a terminal, as a login on a
 * console would be, and sets the run's exit code to the program's. The
 * console (set up as the host pipes are first, which puts it in raw mode)
 * is opened again in cooked mode (`Syscalls.setCookedMode`) at the size
 * given, which then follows the runner's window size messages
 * (`Restore.followControl`); the program gets it as its stdin, stdout and
 * stderr, in a session of its own of which it is the controlling terminal
 * (`sessionLeaderCommand`): ^C interrupts its foreground job, ^Z stops it,
 * and a shell has job control. A program killed by a signal fails the step
 * with `ProgramKilled`. When it ends, what it wrote is drained to the host.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Exec, Layer, Sysinit } from "effect-sysinit"
 *
 * const machine = Layer.memory({
 *   consoles: { transport: "virtio", ports: [0, 1, 2, 3] },
 *   programs: { setsid: () => ({ _tag: "Exited", code: 0 }) }
 * })
 *
 * const program = Effect.gen(function*() {
 *   const terminal = { device: "/dev/hvc3", windowSize: { rows: 50, columns: 132 } }
 *   const code = yield* Sysinit.runSteps(Exec.withTerminalProgram("/bin/bash", ["-l"], { terminal }))
 *   const kernel = yield* Layer.MemoryKernel
 *   const [child] = kernel.state.children
 *   const tty = kernel.state.consoles.get(child!.stdin!)
 *   console.log(child?.command, child?.args.join(" "), `exit code ${Option.getOrThrow(code)}`)
 *   console.log(tty?.device, tty?.cooked, tty?.windowSize)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(machine)))
 * // prints: setsid --ctty --wait /bin/bash -l exit code 0
 * // prints: /dev/hvc3 true { rows: 50, columns: 132 }
 * ```
 *
 * @since 0.1.0
 * @category steps
 */
export const withTerminalProgram = (
  command: string,
  args: ReadonlyArray<string>,
  options: TerminalProgramOptions
): Effect.Effect<
  void,
  SyscallError | LoadModulesError | ProgramKilled,
  Syscalls | NodeProcess | State | Scope.Scope
> =>
  Effect.gen(function*() {
    const syscalls = yield* Syscalls
    const { device, windowSize } = options.terminal
    yield* setupHostPipes
    const fd = yield* Effect.acquireRelease(
      syscalls.openTerminal(device),
      (opened) => Effect.andThen(Effect.ignore(syscalls.drain(opened)), Effect.ignore(syscalls.close(opened)))
    )
    yield* syscalls.setCookedMode(fd)
    yield* syscalls.setWindowSize(fd, windowSize)
    yield* followControl((size) => syscalls.setWindowSize(fd, size))
    const [leader, ...leaderArgs] = sessionLeaderCommand
    const end = yield* runProgram(leader, [...leaderArgs, command, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdin: fd,
      stdout: fd,
      stderr: fd
    })
    yield* endOfProgram(command, end)
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
