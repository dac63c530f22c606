/**
 * A machine saved at its ready point and restored for every run. An init
 * does first what is the same for every run (mounts, modules, consoles),
 * then waits at its ready point for the run: the runner may save the
 * machine there and start each later run from that saved state instead of
 * a cold boot. The run arrives over the control console; before the run's
 * code starts, the restored machine is made a fresh one: its wall clock set
 * to the host's, its random pool reseeded with the host's randomness (two
 * restores of one state would otherwise give the same random bytes).
 *
 * Code that runs in a process which existed at the save (the init itself)
 * keeps what it had then, Node's own random generators included: run the
 * user's code in a process started after `awaitRun`, as `exec`'s init does.
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect } from "effect"
import type { Scope } from "effect"
import { NodeProcess } from "./NodeProcess.ts"
import {
  controlVariable,
  decodeRunMessage,
  decodeWindowSizeMessage,
  encodeRunMessage as encodeMessage,
  encodeWindowSizeMessage as encodeWindowSize,
  formatStartedLine,
  readyLine,
  type RunMessage,
  type WindowSize
} from "./protocol/control.ts"
import { FrameDecoder } from "./protocol/frames.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * What the runner sends for a run: its id, the host's wall clock and
 * randomness, and the init's own part.
 *
 * @since 0.1.0
 * @category models
 */
export type { RunMessage }

/**
 * A run message as the runner sends it: a frame of its JSON, for a host of
 * your own (or a test) to write to the control console.
 *
 * @since 0.1.0
 * @category constructors
 */
export const encodeRunMessage: (message: RunMessage) => Uint8Array = encodeMessage

/**
 * A window size message as the runner sends it after the run, when its
 * terminal's size changes: a frame for the control console.
 *
 * @since 0.1.0
 * @category constructors
 */
export const encodeWindowSizeMessage: (windowSize: WindowSize) => Uint8Array = encodeWindowSize

/**
 * The init waits for a run, but the host connected no control console: the
 * init's environment names none (`EFFECT_SYSINIT_CONTROL`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ControlConsoleMissing extends Data.TaggedError("ControlConsoleMissing")<{}> {
  override get message(): string {
    return `no control console: the host named none in ${controlVariable}, so no run can arrive`
  }
}

/**
 * The control console's input ended before a whole run message came.
 *
 * @since 0.1.0
 * @category errors
 */
export class ControlConsoleClosed extends Data.TaggedError("ControlConsoleClosed")<{ readonly device: string }> {
  override get message(): string {
    return `the control console ${this.device} ended before a run arrived`
  }
}

/**
 * Makes a restored machine a fresh one: sets the wall clock to the host's
 * (it would resume at the time of the save) and mixes the host's randomness
 * into the kernel's random pool, reseeding its generator.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Mount, Restore } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   yield* Mount.mountAll(Mount.essentialMountPoints())
 *   yield* Restore.freshen({ time: Date.UTC(2026, 11, 4), entropy: "AAECAw==" })
 *   const kernel = yield* Layer.MemoryKernel
 *   console.log(new Date(kernel.state.clock!).toISOString(), kernel.state.entropyBytes, kernel.state.reseeds)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: 2026-12-04T00:00:00.000Z 4 1
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const freshen = Effect.fn("Restore.freshen")(function*(message: Pick<RunMessage, "time" | "entropy">) {
  const syscalls = yield* Syscalls
  yield* syscalls.setClock(message.time)
  yield* syscalls.addEntropy(Buffer.from(message.entropy, "base64"))
})

const readChunk = 64 * 1024

/**
 * The ready point: opens the control console (the one the init's
 * environment names, unless `device` is given) in raw mode, says on console
 * 0 that the init waits there (`EFFECT_SYSINIT_READY`), reads the first
 * whole run message (bytes outside a valid frame are skipped), makes the
 * machine fresh (`freshen`), and says on console 0 that the run starts
 * (`EFFECT_SYSINIT_RUN <nonce>`).
 *
 * @example
 * ```ts
 * import { Effect, Fiber } from "effect"
 * import { Layer, Mount, Restore } from "effect-sysinit"
 *
 * const machine = Layer.memory({
 *   consoles: { transport: "virtio", ports: [0, 1, 2] },
 *   env: { EFFECT_SYSINIT_CONTROL: "/dev/hvc2" }
 * })
 *
 * const program = Effect.gen(function*() {
 *   yield* Mount.mountAll(Mount.essentialMountPoints())
 *   const kernel = yield* Layer.MemoryKernel
 *   const waiting = yield* Effect.forkChild(Restore.awaitRun())
 *   // What the runner does once the machine is restored.
 *   kernel.sendToConsole("/dev/hvc2", Restore.encodeRunMessage({ nonce: "run-1", time: Date.now(), entropy: "AQID", run: "hi" }))
 *   const message = yield* Fiber.join(waiting)
 *   console.log(message.run, kernel.state.stderr.trim().split("\n").join(", "))
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(machine)))
 * // prints: hi EFFECT_SYSINIT_READY, EFFECT_SYSINIT_RUN run-1
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const awaitRun = Effect.fn("Restore.awaitRun")(function*(
  options: { readonly device?: string | undefined } = {}
): Effect.fn.Return<
  RunMessage,
  SyscallError | ControlConsoleMissing | ControlConsoleClosed,
  Syscalls | NodeProcess
> {
  const syscalls = yield* Syscalls
  const nodeProcess = yield* NodeProcess
  const device = options.device ?? (yield* nodeProcess.getEnv(controlVariable))
  if (device === undefined || device === "") return yield* new ControlConsoleMissing()
  const fd = yield* syscalls.openConsoleForReading(device)
  const message = yield* Effect.gen(function*() {
    yield* syscalls.setRawMode(fd)
    yield* nodeProcess.writeStderr(`${readyLine}\n`)
    const received: Array<RunMessage> = []
    const decoder = new FrameDecoder((payload) => {
      const decoded = decodeRunMessage(payload)
      if (decoded !== undefined) received.push(decoded)
    }, () => {})
    while (received.length === 0) {
      const chunk = yield* syscalls.read(fd, readChunk)
      if (chunk.length === 0) return yield* new ControlConsoleClosed({ device })
      decoder.push(Buffer.from(chunk))
    }
    return received[0]!
  }).pipe(Effect.ensuring(Effect.ignore(syscalls.close(fd))))
  yield* freshen(message)
  yield* nodeProcess.writeStderr(formatStartedLine(message.nonce))
  return message
})

/**
 * How often `followControl` looks for the runner's later messages.
 *
 * @since 0.1.0
 * @category constants
 */
export const controlPollInterval: Duration.Duration = Duration.millis(100)

/**
 * After the run has started: follows the control console (the one the
 * init's environment names, unless `device` is given) for the runner's
 * later messages, for the scope's lifetime, in a fiber of its own, and
 * hands each window size it sends to `onWindowSize` (run messages the
 * runner sent again before it saw the run start are skipped). It reads
 * what is there every `controlPollInterval` (`readAvailable`), so that the
 * init goes on meanwhile. Without a control console there is nothing to
 * follow; a failure ends the following and is logged, not the run.
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 * import { Layer, Mount, Restore } from "effect-sysinit"
 *
 * const machine = Layer.memory({
 *   consoles: { transport: "virtio", ports: [0, 1, 2] },
 *   env: { EFFECT_SYSINIT_CONTROL: "/dev/hvc2" }
 * })
 *
 * const program = Effect.gen(function*() {
 *   yield* Mount.mountAll(Mount.essentialMountPoints())
 *   const kernel = yield* Layer.MemoryKernel
 *   const sizes: Array<string> = []
 *   yield* Restore.followControl((size) => Effect.sync(() => sizes.push(`${size.columns}x${size.rows}`)))
 *   // What the runner sends when the host's terminal is resized.
 *   kernel.sendToConsole("/dev/hvc2", Restore.encodeWindowSizeMessage({ rows: 50, columns: 132 }))
 *   yield* Effect.sleep(Duration.times(Restore.controlPollInterval, 3))
 *   console.log(sizes)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(machine)))
 * // prints: [ '132x50' ]
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const followControl = Effect.fn("Restore.followControl")(function*<E, R>(
  onWindowSize: (windowSize: WindowSize) => Effect.Effect<void, E, R>,
  options: { readonly device?: string | undefined } = {}
): Effect.fn.Return<void, SyscallError, Syscalls | NodeProcess | Scope.Scope | R> {
  const syscalls = yield* Syscalls
  const nodeProcess = yield* NodeProcess
  const device = options.device ?? (yield* nodeProcess.getEnv(controlVariable))
  if (device === undefined || device === "") return
  // A descriptor of its own, left O_NDELAY: the console is in raw mode already (awaitRun).
  const fd = yield* Effect.acquireRelease(
    syscalls.openConsoleForReading(device),
    (opened) => Effect.ignore(syscalls.close(opened))
  )
  const follow = Effect.gen(function*() {
    const sizes: Array<WindowSize> = []
    const decoder = new FrameDecoder((payload) => {
      const size = decodeWindowSizeMessage(payload)
      if (size !== undefined) sizes.push(size)
    }, () => {})
    while (true) {
      const chunk = yield* syscalls.readAvailable(fd, readChunk)
      if (chunk === undefined) {
        yield* Effect.sleep(controlPollInterval)
        continue
      }
      if (chunk.length === 0) return
      decoder.push(Buffer.from(chunk))
      for (const size of sizes.splice(0)) {
        yield* onWindowSize(size).pipe(
          Effect.catchCause((cause) => Effect.logError("setting the window size failed", cause))
        )
      }
    }
  })
  yield* Effect.forkScoped(
    follow.pipe(Effect.catchCause((cause) => Effect.logError(`following ${device} failed`, cause)))
  )
})
