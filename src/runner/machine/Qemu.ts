/**
 * Starts QEMU on a kernel and an initramfs, the way virtrun does, and reads
 * the guest's consoles: console 0 (kernel log, init's stderr, the exit code
 * line), console 1 (the guest's stdout), and further consoles into host files.
 * This module is the process and its files; the command line is
 * `qemuCommand`'s, what a line of console 0 means is `consoleLog`'s.
 *
 * Each console is a QEMU `file` chardev: consoles 0 and 1 go to temporary
 * files without a name (`anonymousFile`) that the runner follows as they
 * grow, further consoles straight to their host files. A regular file always
 * takes all that QEMU writes, so nothing is lost, and QEMU's own messages
 * stay on its stderr.
 *
 * QEMU dies with the runner, however the runner ends: it is started through
 * util-linux's `setpriv --pdeathsig KILL`, so the kernel kills it when the
 * runner dies, `kill -9` included.
 *
 * @since 0.1.0
 */
import { Cause, Data, Deferred, Duration, Effect, Exit, Fiber, FileSystem, Option, Stream } from "effect"
import { type PlatformError, SystemError } from "effect/PlatformError"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as NodePath from "node:path"
import { layout, type Role } from "../../protocol/consoles.ts"
import * as Qmp from "../restore/Qmp.ts"
import * as AnonymousFile from "./anonymousFile.ts"
import * as Architecture from "./Architecture.ts"
import { emptyReading, Outcome, type Reading, readLine } from "./consoleLog.ts"
import { follow } from "./follow.ts"
import {
  type ConsoleBackend,
  type InvalidMachine,
  kvmProbeArguments,
  type Machine,
  qemuArguments,
  qemuBinary
} from "./qemuCommand.ts"
import { kvmHint } from "./verdict.ts"

/**
 * How the guest ended; defined beside the reading of console 0, which tells
 * most of it.
 *
 * @since 0.1.0
 * @category models
 */
export { Outcome }

/**
 * QEMU's binary for the guest (`qemu-system-x86_64`, `qemu-system-aarch64`) is not installed.
 *
 * @since 0.1.0
 * @category errors
 */
export class QemuNotFound extends Data.TaggedError("QemuNotFound")<{
  readonly binary: string
  /** The Debian/Ubuntu package that has it. */
  readonly package: string
}> {
  override get message(): string {
    return `${this.binary} not found: install the Debian/Ubuntu package ${this.package} (apt-get install -y ${this.package})`
  }
}

const killedBySignal = -1

/**
 * QEMU failed before the guest said how it ended, e.g. on a bad argument or
 * a missing kernel.
 *
 * @since 0.1.0
 * @category errors
 */
export class QemuFailed extends Data.TaggedError("QemuFailed")<{
  /** -1 when a signal killed it. */
  readonly exitCode: number
  readonly stderr: string
  /** Whether the machine ran under KVM: then the message says how to do without. */
  readonly kvm: boolean
}> {
  override get message(): string {
    const detail = this.stderr.trim().split("\n").at(-1) ?? ""
    const ended = this.exitCode === killedBySignal ? "QEMU was killed by a signal" : `QEMU exited with ${this.exitCode}`
    return `${ended}${detail === "" ? "" : `: ${detail}`}${this.kvm ? ` (${kvmHint})` : ""}`
  }
}

/**
 * How the guest ended, and what console 0 said about it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ending {
  readonly outcome: Outcome
  /** The init's error log entries (see `consoleLog.Reading`). */
  readonly errors: ReadonlyArray<string>
  /** Error entries beyond those kept. */
  readonly droppedErrors: number
  /** Whether console 0 had no line at all: the guest may have had no console. */
  readonly consoleEmpty: boolean
}

const endingOf = (outcome: Outcome, reading: Reading): Ending => ({
  outcome,
  errors: reading.errors,
  droppedErrors: reading.droppedErrors,
  consoleEmpty: !reading.anyLine
})

/**
 * The executable a command name stands for: itself when it has a slash,
 * else the first match on `PATH`.
 *
 * @since 0.1.0
 * @category running
 */
export const findExecutable = (command: string, path = process.env["PATH"] ?? ""): string | undefined => {
  const candidates = command.includes("/")
    ? [command]
    : path.split(":").filter((dir) => dir !== "").map((dir) => NodePath.join(dir, command))
  return candidates.find((candidate) => {
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return fs.statSync(candidate).isFile()
    } catch {
      return false
    }
  })
}

let parentDeathWrapper: Promise<ReadonlyArray<string>> | undefined

/**
 * The command that makes the process it runs die with the runner: util-linux's
 * `setpriv --pdeathsig KILL --` when it is installed and knows the flag, else
 * nothing (QEMU then outlives a runner killed with SIGKILL). Checked once.
 *
 * @since 0.1.0
 * @category running
 */
export const diesWithRunner: Effect.Effect<ReadonlyArray<string>> = Effect.promise(() =>
  parentDeathWrapper ??= new Promise((resolve) => {
    // util-linux's place on Debian, also when PATH is narrower (a test's, a CI step's).
    const setpriv = findExecutable("setpriv") ?? findExecutable("/usr/bin/setpriv")
    if (setpriv === undefined) return resolve([])
    const wrapper = [setpriv, "--pdeathsig", "KILL", "--"]
    execFile(setpriv, [...wrapper.slice(1), setpriv, "--version"], (error) => resolve(error ? [] : wrapper))
  })
)

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
  /**
   * Receives what the guest writes on its terminal console, when given (the
   * terminal of `shell`'s program), which is then laid out before the
   * control console; `Vm.sendTerminal` writes to it.
   */
  readonly terminal?: ((chunk: Uint8Array) => Effect.Effect<void>) | undefined
  /** A control console (the last console) that the runner writes to through `Vm.sendControl`. */
  readonly control?: boolean | undefined
  /**
   * Connects none of the consoles that face the user (outputs, inputs, the
   * terminal, the control console): a boot that only saves the machine at
   * its ready point must neither write their files nor take their sockets'
   * connections.
   */
  readonly detached?: boolean | undefined
  /** Called as soon as QEMU's process exists (before QEMU has set its machine up). */
  readonly onSpawn?: (() => void) | undefined
  /** Runs once QEMU is started, beside the run; when it fails, QEMU is killed and the run fails with it. */
  readonly onStart?: ((vm: Vm) => Effect.Effect<void, Qmp.QmpError>) | undefined
}

/**
 * A started QEMU, for `Streams.onStart`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Vm {
  /** QEMU's monitor, when the machine has one (`Machine.qmp`). */
  readonly qmp: Qmp.Client | undefined
  /** Writes to the control console, once QEMU has connected to it. */
  readonly sendControl: (bytes: Uint8Array) => Effect.Effect<void>
  /** Writes to the terminal console (what the guest reads there), once QEMU has connected to it. */
  readonly sendTerminal: (bytes: Uint8Array) => Effect.Effect<void>
  /** Ends QEMU at once. */
  readonly kill: Effect.Effect<void>
}

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
  options: {
    readonly qemu?: string | undefined
    readonly timeout?: Duration.Input | undefined
    readonly arch?: Architecture.Facts | undefined
  } = {}
): Effect.fn.Return<boolean, never, ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem> {
  const fileSystem = yield* FileSystem.FileSystem
  if (!(yield* fileSystem.exists("/dev/kvm").pipe(Effect.orElseSucceed(() => false)))) return false
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const binary = findExecutable(qemuBinary(options))
  if (binary === undefined) return false
  const [wrapper = binary, ...wrapperArgs] = [...(yield* diesWithRunner), binary]
  const command = ChildProcess.make(wrapper, [...wrapperArgs, ...kvmProbeArguments(kernel, options.arch)], {
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
 * The consoles of a run, in order (`protocol/consoles`): console 0 and
 * stdout, stderr when the caller takes it, the outputs, the inputs, the
 * terminal when the caller takes it, then the control console.
 *
 * @since 0.1.0
 * @category consoles
 */
export const consoleLayout = (
  streams: Pick<Streams, "stderr" | "outputs" | "inputs" | "terminal" | "control">
): ReadonlyArray<Role> =>
  layout({
    stderr: streams.stderr !== undefined,
    outputs: streams.outputs.length,
    inputs: streams.inputs?.length ?? 0,
    terminal: streams.terminal !== undefined,
    control: streams.control === true
  })

interface SocketServer {
  readonly path: string
  readonly server: net.Server
  readonly connection: Promise<net.Socket>
}

/**
 * A unix socket the runner listens on for QEMU's end of a console it serves
 * (the control console, the terminal), and what QEMU connected.
 */
const socketServer = (name: string) =>
  Effect.acquireRelease(
    Effect.callback<SocketServer>((resume) => {
      const directory = fs.mkdtempSync(NodePath.join(os.tmpdir(), `effect-sysinit-${name}-`))
      const path = NodePath.join(directory, `${name}.sock`)
      let connected!: (socket: net.Socket) => void
      const connection = new Promise<net.Socket>((resolve) => (connected = resolve))
      const server = net.createServer((socket) => {
        // A QEMU that ends closes it.
        socket.on("error", () => {})
        connected(socket)
      })
      server.listen(path, () => resume(Effect.succeed({ path, server, connection })))
    }),
    ({ path, server }) =>
      Effect.sync(() => {
        server.close()
        fs.rmSync(NodePath.dirname(path), { recursive: true, force: true })
      })
  )

/** Whether a console faces the user: what a detached boot connects to nothing. */
const facesUser = (role: Role): boolean =>
  role === "output" || role === "input" || role === "terminal" || role === "control"

/** Writes to a served console once QEMU has connected to it; nothing when there is none. */
const sendOf = (served: Pick<SocketServer, "connection"> | undefined) => (bytes: Uint8Array) =>
  served === undefined ? Effect.void : Effect.promise(async () => {
    const socket = await served.connection
    await new Promise<void>((resolve) => socket.write(bytes, () => resolve()))
  })

/**
 * What the guest writes on a served console, to `receive`, until QEMU closes
 * it; nothing when QEMU ended without connecting.
 */
const readServed = (
  served: SocketServer | undefined,
  receive: ((chunk: Uint8Array) => Effect.Effect<void>) | undefined,
  ended: Deferred.Deferred<void>
): Effect.Effect<void> =>
  served === undefined || receive === undefined ? Effect.void : Effect.gen(function*() {
    const socket = yield* Effect.raceFirst(
      Effect.map(Effect.promise(() => served.connection), Option.some),
      Effect.as(Deferred.await(ended), Option.none<net.Socket>())
    )
    if (Option.isNone(socket)) return
    yield* Stream.fromAsyncIterable(socket.value as AsyncIterable<Uint8Array>, (error) => error).pipe(
      Stream.runForEach(receive),
      // A QEMU killed with unread bytes resets the connection: what was read is all there is.
      Effect.ignore
    )
  })

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
  Ending,
  QemuNotFound | QemuFailed | InvalidMachine | PlatformError | AnonymousFile.TemporaryFileError | Qmp.QmpError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem
> {
  const fileSystem = yield* FileSystem.FileSystem
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const name = qemuBinary(machine)
  const qemuPackage = (machine.arch ?? Architecture.all.x86_64).qemuPackage
  const binary = findExecutable(name)
  if (binary === undefined) return yield* new QemuNotFound({ binary: name, package: qemuPackage })
  const wrapper = yield* diesWithRunner
  let reading = emptyReading

  const boot = Effect.scoped(Effect.gen(function*() {
    // Consoles the runner follows go to files without a name, opened for reading before QEMU starts (QEMU
    // opens them again for writing, truncating the empty files); outputs to their host files; inputs to sockets.
    const followed = new Map<Role, { readonly path: string; readonly file: FileSystem.File }>()
    const outputs = [...streams.outputs]
    const inputs = [...(streams.inputs ?? [])]
    const consoleFiles: Array<ConsoleBackend> = []
    const detached = streams.detached === true
    const control = streams.control === true && !detached ? yield* socketServer("control") : undefined
    const terminal = streams.terminal !== undefined && !detached ? yield* socketServer("terminal") : undefined
    for (const role of consoleLayout(streams)) {
      if (detached && facesUser(role)) consoleFiles.push({ null: true })
      else if (role === "output") consoleFiles.push(outputs.shift()!)
      else if (role === "input") consoleFiles.push({ socket: inputs.shift()! })
      else if (role === "terminal") consoleFiles.push({ socket: terminal!.path })
      else if (role === "control") consoleFiles.push({ socket: control!.path })
      else {
        const anonymous = yield* AnonymousFile.make
        followed.set(role, { path: anonymous.path, file: yield* fileSystem.open(anonymous.path, { flag: "r" }) })
        consoleFiles.push(anonymous.path)
      }
    }
    const args = yield* qemuArguments(machine, consoleFiles)
    const [command = binary, ...commandArgs] = [...wrapper, binary, ...args]
    const ended = yield* Deferred.make<void>()
    const handle = yield* spawner.spawn(
      ChildProcess.make(command, commandArgs, { stdin: "ignore", forceKillAfter: "2 seconds" })
    ).pipe(
      Effect.mapError((error) => isNotFound(error) ? new QemuNotFound({ binary: name, package: qemuPackage }) : error)
    )
    streams.onSpawn?.()
    const followOf = (role: Role) => {
      const console = followed.get(role)
      return console === undefined ? Stream.empty : follow(console.file, console.path, ended)
    }
    const kill = Effect.ignore(handle.kill({ killSignal: "SIGKILL" }))
    // Once the guest has said its exit code, everything it wrote is in the console files: nothing is left
    // to wait for but the poweroff.
    const console0 = followOf("log").pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => {
        const decided = reading.outcome !== undefined
        reading = readLine(reading, line)
        const exited = !decided && reading.outcome?._tag === "Exited"
        return Effect.andThen(streams.console(line.replace(/\r+$/, "")), exited ? kill : Effect.void)
      })
    )
    const stdout = followOf("stdout").pipe(Stream.runForEach(streams.stdout))
    const stderrStream = streams.stderr
    const stderrOfGuest = stderrStream === undefined
      ? Effect.void
      : followOf("stderr").pipe(Stream.runForEach(stderrStream))
    const qemuStderr = handle.stderr.pipe(Stream.decodeText(), Stream.mkString)
    const terminalOfGuest = readServed(terminal, streams.terminal, ended)
    const readers = yield* Effect.forkChild(
      Effect.all([console0, stdout, stderrOfGuest, terminalOfGuest], { concurrency: "unbounded", discard: true })
    )
    const stderr = yield* Effect.forkChild(qemuStderr)
    yield* handle.stdout.pipe(Stream.runDrain, Effect.forkChild)
    const onStart = streams.onStart
    const started = onStart === undefined ? undefined : yield* Effect.forkChild(
      Effect.gen(function*() {
        const qmp = machine.qmp === undefined ? undefined : yield* Qmp.connect(machine.qmp)
        yield* onStart({ qmp, sendControl: sendOf(control), sendTerminal: sendOf(terminal), kill })
      }).pipe(Effect.scoped, Effect.tapError(() => kill))
    )
    // A QEMU killed by a signal (an assertion of its KVM code aborts it) has no exit code.
    const exitCode = yield* handle.exitCode.pipe(Effect.orElseSucceed(() => killedBySignal))
    yield* Deferred.succeed(ended, undefined)
    yield* Fiber.join(readers)
    if (started !== undefined) {
      // QEMU is gone: what the hook still waits for will not come. A failure it had is the run's.
      yield* Fiber.interrupt(started)
      const startExit = yield* Fiber.await(started)
      if (Exit.isFailure(startExit) && !Cause.hasInterruptsOnly(startExit.cause)) yield* startExit
    }
    if (reading.outcome !== undefined) return endingOf(reading.outcome, reading)
    if (exitCode !== 0) return yield* new QemuFailed({ exitCode, stderr: yield* Fiber.join(stderr), kvm: machine.kvm })
    return endingOf(Outcome.NoExitCode(), reading)
  }))

  if (streams.timeout === undefined) return yield* boot
  const timeout = Duration.fromInputUnsafe(streams.timeout)
  return yield* Effect.map(
    Effect.timeoutOption(boot, timeout),
    Option.getOrElse(() => endingOf(Outcome.TimedOut({ timeout }), reading))
  )
})
