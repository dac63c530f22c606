/**
 * Host pipes: the consoles beyond console 0 that carry the guest's output
 * to files of the host, as `/dev/virtrun<N>`. Console 1 is the user's
 * stdout, so a program that prints an exit code line cannot fake one.
 *
 * @since 0.1.0
 */
import { Data, Effect, Option, Ref } from "effect"
import type { Scope } from "effect"
import { State } from "./State.ts"
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

/**
 * How the consoles reach the host: virtio consoles (`/dev/hvc*`) or serial
 * ports (`/dev/ttyS*`).
 *
 * @since 0.1.0
 * @category models
 */
export type Transport = "virtio" | "serial"

/**
 * The host pipe a step needs was not set up: the host connected no console
 * for that port.
 *
 * @since 0.1.0
 * @category errors
 */
export class HostPipeMissing extends Data.TaggedError("HostPipeMissing")<{ readonly port: number }> {
  override get message(): string {
    return `no host pipe for port ${this.port}: the host connected no console /dev/virtrun${this.port}`
  }
}

const virtioPorts = 8

/**
 * The ports of the serial driver's table (`/proc/tty/driver/serial`) that
 * have a UART, e.g. `1: uart:16550A port:000002F8 irq:3 tx:0 rx:0`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSerialDriver = (text: string): ReadonlyArray<number> =>
  text.split("\n").flatMap((line) => {
    const match = /^\s*(\d+):(.*)$/.exec(line)
    if (match === null || !match[2]!.includes("uart:") || match[2]!.includes("uart:unknown")) return []
    return [Number(match[1])]
  })

/**
 * Which transport the host used: virtio when `/dev/hvc0` exists (opening it
 * is `ENOENT` when there are no virtio consoles at all), serial otherwise.
 *
 * @since 0.1.0
 * @category operations
 */
export const detectTransport: Effect.Effect<Transport, SyscallError, Syscalls> = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  const probe = yield* Effect.result(syscalls.openConsole("/dev/hvc0"))
  if (probe._tag === "Success") {
    yield* syscalls.close(probe.success)
    return "virtio"
  }
  if (probe.failure.errno === "ENOENT") return "serial"
  // ENODEV: the virtio console driver is there, its port 0 is not connected.
  if (probe.failure.errno === "ENODEV") return "virtio"
  return yield* probe.failure
})

/**
 * The console devices connected on the host besides console 0, by port.
 * Virtio ports that are not connected answer `ENODEV` and are left out.
 *
 * @since 0.1.0
 * @category operations
 */
export const connectedConsoles: Effect.Effect<
  ReadonlyArray<{ readonly port: number; readonly device: string }>,
  SyscallError,
  Syscalls
> = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  const transport = yield* detectTransport
  if (transport === "serial") {
    const table = new TextDecoder().decode(yield* syscalls.readFile("/proc/tty/driver/serial"))
    return parseSerialDriver(table).filter((port) => port !== 0).map((port) => ({ port, device: `/dev/ttyS${port}` }))
  }
  const consoles: Array<{ port: number; device: string }> = []
  for (let port = 1; port < virtioPorts; port++) {
    const device = `/dev/hvc${port}`
    const probe = yield* Effect.result(syscalls.openConsole(device))
    if (probe._tag === "Failure") {
      if (probe.failure.errno === "ENODEV" || probe.failure.errno === "ENOENT") continue
      return yield* probe.failure
    }
    yield* syscalls.close(probe.success)
    consoles.push({ port, device })
  }
  return consoles
})

const logFailure = (what: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.catchCause((cause) => Effect.logError(`${what} failed`, cause)), Effect.asVoid)

const openPipe = Effect.fnUntraced(function*(port: number, device: string) {
  const syscalls = yield* Syscalls
  const fd = yield* Effect.acquireRelease(
    syscalls.openConsole(device),
    (opened) =>
      Effect.andThen(
        syscalls.drain(opened).pipe(logFailure(`draining ${device}`)),
        syscalls.close(opened).pipe(logFailure(`closing ${device}`))
      )
  )
  yield* syscalls.setRawMode(fd)
  const link = `/dev/virtrun${port}`
  yield* syscalls.symlink(device, link)
  return { port, device, link, fd } satisfies HostPipe
})

/**
 * Opens every connected console but console 0 in raw mode, links
 * `/dev/virtrun<N>` to it, and drains and closes it when the scope closes.
 * Within one run it sets them up once and then returns the same pipes.
 *
 * @since 0.1.0
 * @category operations
 */
export const setupHostPipes: Effect.Effect<
  ReadonlyArray<HostPipe>,
  SyscallError,
  Syscalls | State | Scope.Scope
> = Effect.gen(function*() {
  const state = yield* State
  const existing = yield* Ref.get(state.hostPipes)
  if (Option.isSome(existing)) return existing.value
  const pipes: Array<HostPipe> = []
  for (const { device, port } of yield* connectedConsoles) {
    pipes.push(yield* openPipe(port, device))
  }
  yield* Ref.set(state.hostPipes, Option.some(pipes))
  return pipes
})

/**
 * A step of `Sysinit.run`: `setupHostPipes`.
 *
 * @since 0.1.0
 * @category steps
 */
export const withHostPipes: Effect.Effect<void, SyscallError, Syscalls | State | Scope.Scope> = Effect.asVoid(
  setupHostPipes
)

/**
 * A step of `Sysinit.run`: sets up the host pipes if needed and sends what
 * the process writes to stdout (`process.stdout`, `console.log`, Effect's
 * `Console`) to `/dev/virtrun1`. When the scope closes, the pipe is drained
 * and stdout restored.
 *
 * @since 0.1.0
 * @category steps
 */
export const withStdoutHostPipe: Effect.Effect<
  void,
  SyscallError | HostPipeMissing,
  Syscalls | State | Scope.Scope
> = Effect.gen(function*() {
  const syscalls = yield* Syscalls
  const pipe = (yield* setupHostPipes).find((candidate) => candidate.port === 1)
  if (pipe === undefined) return yield* new HostPipeMissing({ port: 1 })
  yield* Effect.acquireRelease(
    syscalls.redirectStdout(pipe.fd),
    () =>
      Effect.andThen(
        syscalls.drain(pipe.fd).pipe(logFailure(`draining ${pipe.device}`)),
        syscalls.redirectStdout(undefined)
      )
  )
})
