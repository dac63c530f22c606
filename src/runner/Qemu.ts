/**
 * Starts QEMU on a kernel and an initramfs, the way virtrun does, and reads
 * the guest's consoles: console 0 (kernel log, init's stderr, the exit code
 * line), console 1 (the guest's stdout), and further consoles into host files.
 * This module is the process and its files; the command line is
 * `qemuCommand`'s, what a line of console 0 means is `consoleLog`'s.
 *
 * Each console is a QEMU `file` chardev: consoles 0 and 1 go to files of a
 * temporary directory that the runner follows as they grow, further consoles
 * straight to their host files. A regular file always takes all that QEMU
 * writes, so nothing is lost, and QEMU's own messages stay on its stderr.
 *
 * @since 0.1.0
 */
import { Data, Deferred, Duration, Effect, Fiber, FileSystem, Option, Path, Stream } from "effect"
import { type PlatformError, SystemError } from "effect/PlatformError"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { classifyLine, Outcome } from "./consoleLog.ts"
import { type InvalidMachine, kvmProbeArguments, type Machine, qemuArguments } from "./qemuCommand.ts"

/**
 * How the guest ended; defined beside the reading of console 0, which tells
 * most of it.
 *
 * @since 0.1.0
 * @category models
 */
export { Outcome }

/**
 * `qemu-system-x86_64` is not installed.
 *
 * @since 0.1.0
 * @category errors
 */
export class QemuNotFound extends Data.TaggedError("QemuNotFound")<{ readonly binary: string }> {
  override get message(): string {
    return `${this.binary} not found: install the Debian/Ubuntu package qemu-system-x86 (apt-get install -y qemu-system-x86)`
  }
}

/**
 * QEMU failed before the guest said how it ended, e.g. on a bad argument or
 * a missing kernel.
 *
 * @since 0.1.0
 * @category errors
 */
export class QemuFailed extends Data.TaggedError("QemuFailed")<{
  readonly exitCode: number
  readonly stderr: string
}> {
  override get message(): string {
    const detail = this.stderr.trim().split("\n").at(-1) ?? ""
    return `QEMU exited with ${this.exitCode}${detail === "" ? "" : `: ${detail}`}`
  }
}

/**
 * What to do with the guest's output.
 *
 * @since 0.1.0
 * @category models
 */
export interface Streams {
  /** Receives console 1 as it comes. */
  readonly stdout: (chunk: Uint8Array) => Effect.Effect<void>
  /** Receives each line of console 0, without its line ending. */
  readonly console: (line: string) => Effect.Effect<void>
  /** Receives console 2 as it comes, when given (the program's stderr of `exec`); outputs then start at console 3. */
  readonly stderr?: ((chunk: Uint8Array) => Effect.Effect<void>) | undefined
  /** Host files for consoles 2, 3, … (3, … with `stderr`), truncated first. */
  readonly outputs: ReadonlyArray<string>
  /** Unix sockets, listened on by the caller, for the consoles after `outputs`: the guest reads what is written there. */
  readonly inputs?: ReadonlyArray<string> | undefined
  /** Kills QEMU after this long. */
  readonly timeout?: Duration.Input | undefined
}

const followedChunkSize = 64 * 1024
const followInterval = Duration.millis(10)

/**
 * A file's bytes as QEMU appends them, until `ended` is done and the end of
 * the file is read once more after that.
 */
const follow = (file: FileSystem.File, ended: Deferred.Deferred<void>): Stream.Stream<Uint8Array, PlatformError> =>
  Stream.paginate(false, (endedBeforeRead: boolean) =>
    Effect.gen(function*() {
      const chunk = yield* file.readAlloc(followedChunkSize)
      if (Option.isSome(chunk)) return [[chunk.value], Option.some(endedBeforeRead)] as const
      if (endedBeforeRead) return [[], Option.none()] as const
      const hasEnded = yield* Deferred.isDone(ended)
      if (!hasEnded) yield* Effect.sleep(followInterval)
      return [[], Option.some(hasEnded)] as const
    }))

/**
 * Whether KVM really works here: a device node alone proves nothing (nested
 * KVM can hang the boot). Boots the kernel with KVM and no initramfs; a
 * working KVM reaches the "cannot mount root" panic and ends QEMU within a
 * second or so, a hanging one is killed after `timeout`.
 *
 * @since 0.1.0
 * @category running
 */
export const probeKvm = Effect.fn("Qemu.probeKvm")(function*(
  kernel: string,
  options: { readonly qemu?: string | undefined; readonly timeout?: Duration.Input | undefined } = {}
): Effect.fn.Return<boolean, never, ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  if (!(yield* fs.exists("/dev/kvm").pipe(Effect.orElseSucceed(() => false)))) return false
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const command = ChildProcess.make(options.qemu ?? "qemu-system-x86_64", kvmProbeArguments(kernel), {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
    forceKillAfter: "1 second"
  })
  const exitCode = Effect.scoped(Effect.flatMap(spawner.spawn(command), (handle) => handle.exitCode))
  return yield* exitCode.pipe(
    Effect.timeoutOption(options.timeout ?? "4 seconds"),
    Effect.map((code) => Option.isSome(code) && code.value === 0),
    Effect.orElseSucceed(() => false)
  )
})

const isNotFound = (error: PlatformError): boolean =>
  error.reason instanceof SystemError && error.reason["_tag"] === "NotFound"

/**
 * Boots the machine and waits for it to end. The outcome is the first line
 * of console 0 that tells how the guest ended; without one, the guest ended
 * without an exit code.
 *
 * @since 0.1.0
 * @category running
 */
export const run = Effect.fn("Qemu.run")(function*(
  machine: Machine,
  streams: Streams
): Effect.fn.Return<
  Outcome,
  QemuNotFound | QemuFailed | InvalidMachine | PlatformError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const binary = machine.qemu ?? "qemu-system-x86_64"

  const boot = Effect.scoped(Effect.gen(function*() {
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-sysinit-consoles-" })
    const followed = [path.join(dir, "console0"), path.join(dir, "console1")]
    if (streams.stderr !== undefined) followed.push(path.join(dir, "console2"))
    // Open for reading before QEMU starts; QEMU truncates the empty files when it opens them.
    const [console0File, console1File, console2File] = yield* Effect.forEach(
      followed,
      (file) => Effect.andThen(fs.writeFile(file, new Uint8Array()), fs.open(file, { flag: "r" }))
    )
    const consoleFiles = [...followed, ...streams.outputs, ...(streams.inputs ?? []).map((socket) => ({ socket }))]
    const args = yield* qemuArguments(machine, consoleFiles)
    const ended = yield* Deferred.make<void>()
    const handle = yield* spawner.spawn(
      ChildProcess.make(binary, args, { stdin: "ignore", forceKillAfter: "2 seconds" })
    ).pipe(
      Effect.mapError((error) => isNotFound(error) ? new QemuNotFound({ binary }) : error)
    )
    let outcome: Outcome | undefined
    const console0 = follow(console0File!, ended).pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => {
        outcome ??= classifyLine(line)
        return streams.console(line.replace(/\r+$/, ""))
      })
    )
    const stdout = follow(console1File!, ended).pipe(Stream.runForEach(streams.stdout))
    const stderrStream = streams.stderr
    const stderrOfGuest = console2File === undefined || stderrStream === undefined
      ? Effect.void
      : follow(console2File, ended).pipe(Stream.runForEach(stderrStream))
    const qemuStderr = handle.stderr.pipe(Stream.decodeText(), Stream.mkString)
    const readers = yield* Effect.forkChild(
      Effect.all([console0, stdout, stderrOfGuest], { concurrency: "unbounded", discard: true })
    )
    const stderr = yield* Effect.forkChild(qemuStderr)
    yield* handle.stdout.pipe(Stream.runDrain, Effect.forkChild)
    const exitCode = yield* handle.exitCode
    yield* Deferred.succeed(ended, undefined)
    yield* Fiber.join(readers)
    if (outcome !== undefined) return outcome
    if (exitCode !== 0) return yield* new QemuFailed({ exitCode, stderr: yield* Fiber.join(stderr) })
    return Outcome.NoExitCode()
  }))

  if (streams.timeout === undefined) return yield* boot
  const timeout = Duration.fromInputUnsafe(streams.timeout)
  return yield* Effect.map(
    Effect.timeoutOption(boot, timeout),
    Option.getOrElse(() => Outcome.TimedOut({ timeout }))
  )
})
