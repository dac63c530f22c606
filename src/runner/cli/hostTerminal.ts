/**
 * The runner's stdin under `effect-sysinit shell`. A terminal there is
 * joined to the guest's for the session: in raw mode (each key goes to the
 * guest as typed, ^C too, which the guest's terminal turns into SIGINT for
 * its foreground program), restored however the runner ends but by
 * SIGKILL; its size goes to the guest at the start and at each change
 * (SIGWINCH), as messages on the control console. Anything else (a pipe, a
 * file) is read whole before the boot, for the shell to read as its stdin.
 *
 * @since 0.1.0
 */
import { Effect, Queue, Stream } from "effect"
import type { Scope } from "effect"
import type * as tty from "node:tty"
import { encodeWindowSizeMessage, type WindowSize } from "../../protocol/control.ts"
import type * as Qemu from "../machine/Qemu.ts"

/**
 * Whether the runner's stdin is a terminal.
 *
 * @since 0.1.0
 * @category terminal
 */
export const stdinIsTerminal = (): boolean => process.stdin.isTTY === true

/**
 * The size the guest's terminal gets when no output of the runner is a terminal to take it from.
 *
 * @since 0.1.0
 * @category terminal
 */
export const defaultWindowSize: WindowSize = { rows: 24, columns: 80 }

const sizedStream = (): tty.WriteStream | undefined =>
  process.stdout.isTTY ? process.stdout : process.stderr.isTTY ? process.stderr : undefined

/**
 * The host terminal's size now: of stdout when it is a terminal, else of
 * stderr, else `defaultWindowSize`.
 *
 * @since 0.1.0
 * @category terminal
 */
export const windowSize = (): WindowSize => {
  const stream = sizedStream()
  if (stream === undefined) return defaultWindowSize
  const [columns, rows] = stream.getWindowSize()
  return { rows, columns }
}

/**
 * The runner's stdin read to its end; nothing when it cannot be read.
 *
 * @since 0.1.0
 * @category input
 */
export const readStdin: Effect.Effect<Uint8Array> = Effect.tryPromise(async () => {
  const chunks: Array<Buffer> = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}).pipe(Effect.orElseSucceed(() => new Uint8Array()))

/**
 * Raw mode on the runner's stdin for the scope's lifetime (libuv's: output
 * keeps turning NL into CR NL, so the runner's own lines still start at the
 * left), restored when the scope closes, and on the process's way out
 * should it end first.
 */
const rawMode: Effect.Effect<void, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const stdin = process.stdin as tty.ReadStream
    const restore = () => {
      try {
        if (stdin.isRaw) stdin.setRawMode(false)
      } catch {
        // A terminal that went away has no mode to restore.
      }
    }
    process.once("exit", restore)
    stdin.setRawMode(true)
    return restore
  }),
  (restore) =>
    Effect.sync(() => {
      process.off("exit", restore)
      restore()
    })
)

/** The events of a Node emitter as a stream, for the stream's lifetime. */
const events = <A>(
  subscribe: (push: (value: A) => void) => () => void
): Stream.Stream<A> =>
  Stream.callback<A>((queue) =>
    Effect.acquireRelease(
      Effect.sync(() => subscribe((value) => void Queue.offerUnsafe(queue, value))),
      (unsubscribe) => Effect.sync(unsubscribe)
    )
  )

/**
 * The session of `shell` with a terminal, once the guest's shell runs and
 * until QEMU ends: raw mode; the keys to the guest's terminal; the host
 * terminal's size when it changed since `initial` (the size the run was
 * made with) and at each SIGWINCH.
 *
 * @since 0.1.0
 * @category terminal
 */
export const session = (initial: WindowSize) => (vm: Qemu.Vm): Effect.Effect<void> =>
  Effect.scoped(Effect.gen(function*() {
    yield* rawMode
    let sent = initial
    const sendSize = Effect.suspend(() => {
      const now = windowSize()
      if (now.rows === sent.rows && now.columns === sent.columns) return Effect.void
      sent = now
      return vm.sendControl(encodeWindowSizeMessage(now))
    })
    // The terminal may have changed its size while the machine started.
    yield* sendSize
    const keys = events<Uint8Array>((push) => {
      process.stdin.on("data", push)
      process.stdin.resume()
      return () => {
        process.stdin.off("data", push)
        process.stdin.pause()
      }
    })
    const resizes = events<void>((push) => {
      const onResize = () => push(undefined)
      process.on("SIGWINCH", onResize)
      return () => void process.off("SIGWINCH", onResize)
    })
    yield* Effect.all([
      Stream.runForEach(keys, vm.sendTerminal),
      Stream.runForEach(resizes, () => sendSize)
    ], { concurrency: "unbounded", discard: true })
  }))
