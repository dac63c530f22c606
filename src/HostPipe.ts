/**
 * Host pipes: the consoles beyond console 0 that carry the guest's output
 * to files of the host, as `/dev/virtrun<N>`. Console 1 is the user's
 * stdout, so a program that prints an exit code line cannot fake one.
 *
 * @since 0.1.0
 */
import { Clock, Data, Duration, Effect, Option } from "effect"
import type { Scope } from "effect"
import * as Kmod from "./Kmod.ts"
import { NodeProcess } from "./NodeProcess.ts"
import {
  consoleDevice,
  consoleLimit,
  hostPipePath,
  parseSerialDriver,
  stdoutPort,
  type Transport,
  transportModulesDirectory
} from "./protocol/consoles.ts"
import * as RunState from "./State.ts"
import type { State } from "./State.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * A console set up for output to the host.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostPipe {
  /** The console's port: 1 for stdout, 2… for extra output files. */
  readonly port: number
  /** The console device, e.g. `/dev/hvc1` or `/dev/ttyS1`. */
  readonly device: string
  /** The link to it, `/dev/virtrun<port>`. */
  readonly link: string
  /** The open descriptor, raw mode, blocking writes. */
  readonly fd: number
}

export type {
  /**
   * How the consoles reach the host: virtio consoles (`/dev/hvc*`) or serial
   * ports (`/dev/ttyS*`).
   *
   * @since 0.1.0
   * @category models
   */
  Transport
}

/**
 * The host pipe a step needs was not set up: the host connected no console
 * for that port.
 *
 * @since 0.1.0
 * @category errors
 */
export class HostPipeMissing extends Data.TaggedError("HostPipeMissing")<{ readonly port: number }> {
  override get message(): string {
    return `no host pipe for port ${this.port}: the host connected no console ${hostPipePath(this.port)}`
  }
}

/**
 * How long the init waits for virtio consoles that a just loaded
 * virtio_console is still adding, and for /dev/console to reach hvc0. A
 * host that also gives ports that are not consoles (virtserialport) costs
 * the whole wait, since such a port never opens as one.
 *
 * @since 0.1.0
 * @category constants
 */
export const virtioConsoleWait: Duration.Duration = Duration.seconds(5)

const virtioPollInterval = Duration.millis(10)

// The devices that virtio_console has bound: the link appears while the module loads, before its ports do.
const virtioConsoleDriver = "/sys/bus/virtio/drivers/virtio_console"
const boundVirtioConsoles = `${virtioConsoleDriver}/virtio*`
// One entry per port the host announced, console or not.
const announcedVirtioPorts = "/sys/class/virtio-ports/vport*"

// virtio_console makes a port's tty (hvc_alloc, and with it the device node) before it lists the port
// among its consoles; an open in between fails with EINVAL, and the kernel logs "hvc_open: request_irq
// failed with rc -22". The next open succeeds. Under TCG the window is wide enough to hit at boot.
const portBeingAdded = (error: SyscallError): boolean => error.errno === "ENODEV" || error.errno === "EINVAL"

/**
 * Whether a console opens: `false` when it does not exist (`ENOENT`), is not
 * connected (`ENODEV`) or is still being added (`EINVAL`).
 */
const consoleOpens = Effect.fnUntraced(function*(device: string) {
  const syscalls = yield* Syscalls
  const probe = yield* Effect.result(syscalls.openConsole(device))
  if (probe._tag === "Failure") {
    if (portBeingAdded(probe.failure) || probe.failure.errno === "ENOENT") return false
    return yield* probe.failure
  }
  yield* syscalls.close(probe.success)
  return true
})

/** Repeats `attempt` every few milliseconds until it gives a value or `virtioConsoleWait` has passed. */
const pollVirtio = <A, E, R>(
  attempt: (lastChance: boolean) => Effect.Effect<Option.Option<A>, E, R>
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(virtioConsoleWait)
    while (true) {
      const lastChance = (yield* Clock.currentTimeMillis) >= deadline
      const result = yield* attempt(lastChance)
      if (Option.isSome(result)) return result.value
      yield* Effect.sleep(virtioPollInterval)
    }
  })

/**
 * Which transport the host used: virtio when `/dev/hvc0` exists (opening it
 * is `ENOENT` when there are no virtio consoles at all, `ENODEV` when its
 * port is not connected, `EINVAL` while it is being added) or when
 * virtio_console has bound a device whose ports are still being added;
 * serial otherwise.
 *
 * @since 0.1.0
 * @category operations
 */
export const detectTransport: Effect.Effect<Transport, SyscallError, Syscalls> = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  const probe = yield* Effect.result(syscalls.openConsole(consoleDevice("virtio", 0)))
  if (probe._tag === "Success") {
    yield* syscalls.close(probe.success)
    return "virtio"
  }
  if (portBeingAdded(probe.failure)) return "virtio"
  if (probe.failure.errno !== "ENOENT") return yield* probe.failure
  // Most kernels have no virtio_console at all: a stat settles it without a glob.
  const driver = yield* Effect.result(syscalls.fileType(virtioConsoleDriver))
  if (driver._tag === "Failure") return "serial"
  return (yield* syscalls.glob(boundVirtioConsoles)).length > 0 ? "virtio" : "serial"
})

/**
 * The virtio consoles that open, port 0 included. A virtio_console module
 * that has just loaded adds its ports afterwards, one control message of
 * the host at a time: this waits (up to `virtioConsoleWait`) until every
 * port announced in `/sys/class/virtio-ports` opens as a console.
 */
const virtioConsoles = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  return yield* pollVirtio(Effect.fnUntraced(function*(lastChance) {
    const ports: Array<number> = []
    for (let port = 0; port < consoleLimit.virtio; port++) {
      if (yield* consoleOpens(consoleDevice("virtio", port))) ports.push(port)
    }
    const announced = (yield* syscalls.glob(announcedVirtioPorts)).length
    const settled = announced > 0 && ports.length >= announced
    return settled || lastChance ? Option.some(ports) : Option.none()
  }))
})

/**
 * Loads the modules that the runner put in `/lib/modules/transport` for
 * the consoles of its transport (virtio_console and virtio_mmio for an
 * arm64 guest of Debian's kernel), when there are any.
 */
const loadTransportModules = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  // A stat, not a glob, where there is nothing: most runs.
  const directory = yield* Effect.result(syscalls.fileType(transportModulesDirectory))
  if (directory._tag === "Failure" || directory.success !== "directory") return
  yield* Kmod.loadModules(`${transportModulesDirectory}/*`)
})

/**
 * The console devices connected on the host besides console 0, by port,
 * once the modules of `/lib/modules/transport` are loaded. Virtio ports
 * that are not connected answer `ENODEV` and are left out; those that a
 * just loaded virtio_console is still adding are waited for.
 *
 * @since 0.1.0
 * @category operations
 */
export const connectedConsoles: Effect.Effect<
  ReadonlyArray<{ readonly port: number; readonly device: string }>,
  SyscallError | Kmod.LoadModulesError,
  Syscalls
> = Effect.map(Effect.suspend(() => consolesByTransport), ({ consoles }) => consoles)

const consolesByTransport = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  yield* loadTransportModules
  const transport = yield* detectTransport
  if (transport === "serial") {
    const table = new TextDecoder().decode(yield* syscalls.readFile("/proc/tty/driver/serial"))
    const ports = parseSerialDriver(table).filter((port) => port !== 0)
    return { transport, consoles: ports.map((port) => ({ port, device: consoleDevice(transport, port) })) }
  }
  const ports = (yield* virtioConsoles).filter((port) => port !== 0)
  return { transport, consoles: ports.map((port) => ({ port, device: consoleDevice(transport, port) })) }
})

/**
 * Makes `/dev/console` the init's stdin, stdout and stderr when stderr is
 * not a terminal, and tells whether it did. That is the case when the
 * kernel had no console at boot, e.g. `console=hvc0` with virtio_console
 * as a module: the init started on `/dev/null`, and its log and the exit
 * code line would be lost. Once the module has loaded, `/dev/console` is
 * hvc0; opening it answers `ENODEV` until then (and `EINVAL` while the port
 * is being added), which this waits out for up to `virtioConsoleWait`.
 *
 * @since 0.1.0
 * @category operations
 */
export const reopenStdioOnConsole: Effect.Effect<boolean, SyscallError, Syscalls> = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  if (yield* syscalls.isTerminal(2)) return false
  return yield* pollVirtio((lastChance) =>
    syscalls.reopenStdio("/dev/console").pipe(
      Effect.as(Option.some(true)),
      Effect.catchIf(
        (error) => portBeingAdded(error) && !lastChance,
        () => Effect.succeed(Option.none())
      )
    )
  )
})

const logFailure = (what: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.catchCause((cause) => Effect.logError(`${what} failed`, cause)), Effect.asVoid)

// A console that was the controlling terminal of a session is hung up when the session's leader ends (a shell on
// its terminal): the kernel sent what it could, and draining it is EIO.
const hungUp = (error: SyscallError): boolean => error.errno === "EIO"

const openPipe = Effect.fnUntraced(function*(port: number, device: string) {
  const syscalls = yield* Syscalls
  const fd = yield* Effect.acquireRelease(
    syscalls.openConsole(device),
    (opened) =>
      Effect.andThen(
        syscalls.drain(opened).pipe(Effect.catchIf(hungUp, () => Effect.void), logFailure(`draining ${device}`)),
        syscalls.close(opened).pipe(logFailure(`closing ${device}`))
      )
  )
  yield* syscalls.setRawMode(fd)
  const link = hostPipePath(port)
  yield* syscalls.symlink(device, link)
  return { port, device, link, fd } satisfies HostPipe
})

/**
 * Opens every connected console but console 0 in raw mode, links
 * `/dev/virtrun<N>` to it, and drains and closes it when the scope closes.
 * Within one run it sets them up once and then returns the same pipes.
 * First it loads the modules that the runner put in
 * `/lib/modules/transport` for the transport's consoles.
 *
 * Over virtio it first waits for the consoles that a just loaded
 * virtio_console is still adding, and, when the init started without a
 * console (stderr not a terminal), reopens its stdio on `/dev/console`
 * (`reopenStdioOnConsole`), so that its log and the exit code line reach
 * console 0 again.
 *
 * @since 0.1.0
 * @category operations
 */
export const setupHostPipes: Effect.Effect<
  ReadonlyArray<HostPipe>,
  SyscallError | Kmod.LoadModulesError,
  Syscalls | State | Scope.Scope
> = Effect.suspend(() => RunState.once(setupKey, Effect.flatMap(consolesByTransport, setupDetected)))

const setupKey = "HostPipe.setupHostPipes"

const setupDetected = (detected: Effect.Success<typeof consolesByTransport>) =>
  RunState.once(
    setupKey,
    Effect.gen(function*() {
      if (detected.transport === "virtio") yield* reopenStdioOnConsole
      const pipes: Array<HostPipe> = []
      for (const { device, port } of detected.consoles) {
        pipes.push(yield* openPipe(port, device))
      }
      return pipes
    })
  )

/**
 * A step of `Sysinit.run`: sets up the host pipes if needed and sends what
 * the process writes to stdout (`process.stdout`, `console.log`, Effect's
 * `Console`) to `/dev/virtrun1`. When the scope closes, the pipe is drained
 * and stdout restored. A second call in the same run does nothing more.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HostPipe, Layer, Sysinit } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   const kernel = yield* Layer.MemoryKernel
 *   const during = Effect.sync(() => console.log(`during the run, stdout is fd ${kernel.state.stdoutFd}`))
 *   yield* Sysinit.runSteps(HostPipe.withStdoutHostPipe, during)
 *   console.log(`after it, stdout is ${kernel.state.stdoutFd ?? "restored"}`)
 *   const [pipe] = kernel.state.consoles.values()
 *   console.log(`${pipe?.device}: raw ${pipe?.raw}, drained ${pipe?.drained}, open ${pipe?.open}`)
 *   console.log(kernel.state.tree.get("/dev/virtrun1"))
 * })
 *
 * // Consoles 0 and 1 on serial ports, as the runner connects them by default.
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory({ consoles: { transport: "serial", ports: [0, 1] } }))))
 * // prints: during the run, stdout is fd 3
 * // prints: after it, stdout is restored
 * // prints: /dev/ttyS1: raw true, drained true, open false
 * // prints: { type: 'symlink', target: '/dev/ttyS1' }
 * ```
 *
 * @since 0.1.0
 * @category steps
 */
export const withStdoutHostPipe: Effect.Effect<
  void,
  SyscallError | Kmod.LoadModulesError | HostPipeMissing,
  Syscalls | NodeProcess | State | Scope.Scope
> = RunState.once(
  "HostPipe.withStdoutHostPipe",
  Effect.gen(function*() {
    const syscalls = yield* Syscalls
    const nodeProcess = yield* NodeProcess
    const pipe = (yield* setupHostPipes).find((candidate) => candidate.port === stdoutPort)
    if (pipe === undefined) return yield* new HostPipeMissing({ port: stdoutPort })
    yield* Effect.acquireRelease(
      nodeProcess.redirectStdout(pipe.fd),
      () =>
        Effect.andThen(
          syscalls.drain(pipe.fd).pipe(logFailure(`draining ${pipe.device}`)),
          nodeProcess.redirectStdout(undefined)
        )
    )
  })
)

/**
 * A step of `Sysinit.run`: `withStdoutHostPipe` when the host connected a
 * console 1, nothing otherwise (and then a later step may still set up the
 * pipes, e.g. after loading virtio_console). What `Init.main` does first by
 * default, so that what the init prints reaches the host's stdout and
 * nothing printed there can fake an exit code.
 *
 * @since 0.1.0
 * @category steps
 */
export const withStdoutHostPipeWhenConnected: Effect.Effect<
  void,
  SyscallError | Kmod.LoadModulesError | HostPipeMissing,
  Syscalls | NodeProcess | State | Scope.Scope
> = Effect.gen(function*() {
  const detected = yield* consolesByTransport
  if (!detected.consoles.some((console) => console.port === stdoutPort)) return
  yield* setupDetected(detected)
  yield* withStdoutHostPipe
})
