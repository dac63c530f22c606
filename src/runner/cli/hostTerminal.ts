/**
 * The runner's stdin under `effect-sysinit shell`. A terminal there is
 * joined to the guest's for the session: in raw mode (each key goes to the
 * guest as typed, ^C too, which the guest's terminal turns into SIGINT for
 * its foreground program), restored however the runner ends but by
 * SIGKILL; its size goes to the guest at the start and at each change
 * (SIGWINCH), as messages on the control console. Anything else (a pipe, a
 * file) is read whole before the boot, for the shell to read as its stdin.
 * The streams and the process's events are a reference (`Host`) with the
 * process's own as its default, so that tests give a terminal of their own.
 *
 * @since 0.1.0
 */
import { Context, Effect, Queue, Stream } from "effect"
import type { Scope } from "effect"
import { encodeWindowSizeMessage, type WindowSize } from "../../protocol/control.ts"
import type * as Qemu from "../machine/Qemu.ts"

/**
 * The runner's stdin as the session uses it: a terminal (`isTTY`, raw mode,
 * its keys as data events) or anything else, read to its end.
 *
 * @since 0.1.0
 * @category models
 */
export interface Input extends AsyncIterable<Uint8Array | string> {
  readonly isTTY?: boolean | undefined
  readonly isRaw?: boolean | undefined
  setRawMode?(mode: boolean): unknown
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown
  off(event: "data", listener: (chunk: Uint8Array) => void): unknown
  resume(): unknown
  pause(): unknown
}

/**
 * An output of the runner (stdout, stderr), for the terminal's size.
 *
 * @since 0.1.0
 * @category models
 */
export interface Output {
  readonly isTTY?: boolean | undefined
  getWindowSize?(): [number, number]
}

/**
 * What the session joins: the runner's standard streams, and where the
 * process's `exit` and `SIGWINCH` are heard.
 *
 * @since 0.1.0
 * @category models
 */
export interface Streams {
  readonly stdin: Input
  readonly stdout: Output
  readonly stderr: Output
  readonly events: {
    on(event: "exit" | "SIGWINCH", listener: () => void): unknown
    once(event: "exit", listener: () => void): unknown
    off(event: "exit" | "SIGWINCH", listener: () => void): unknown
  }
}

/**
 * The runner's streams: the process's own by default.
 *
 * @since 0.1.0
 * @category references
 */
export const Host: Context.Reference<Streams> = Context.Reference<Streams>("effect-sysinit/HostTerminal", {
  defaultValue: () => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, events: process })
})

/**
 * Whether the runner's stdin is a terminal.
 *
 * @since 0.1.0
 * @category terminal
 */
export const stdinIsTerminal = (host: Streams): boolean => host.stdin.isTTY === true

/**
 * The size the guest's terminal gets when no output of the runner is a terminal to take it from.
 *
 * @since 0.1.0
 * @category terminal
 */
export const defaultWindowSize: WindowSize = { rows: 24, columns: 80 }

/**
 * The host terminal's size now: of stdout when it is a terminal, else of
 * stderr, else `defaultWindowSize`.
 *
 * @since 0.1.0
 * @category terminal
 */
export const windowSize = (host: Streams): WindowSize => {
  const stream = [host.stdout, host.stderr].find((output) => output.isTTY === true && output.getWindowSize)
  if (stream === undefined) return defaultWindowSize
  const [columns, rows] = stream.getWindowSize!()
  return { rows, columns }
}

/**
 * The runner's stdin read to its end; nothing when it cannot be read.
 *
 * @since 0.1.0
 * @category input
 */
export const readStdin = (host: Streams): Effect.Effect<Uint8Array> =>
  Effect.tryPromise(async () => {
    const chunks: Array<Buffer> = []
    for await (const chunk of host.stdin) chunks.push(Buffer.from(chunk))
    return new Uint8Array(Buffer.concat(chunks))
  }).pipe(Effect.orElseSucceed(() => new Uint8Array()))

/**
 * Raw mode on the runner's stdin for the scope's lifetime (libuv's: output
 * keeps turning NL into CR NL, so the runner's own lines still start at the
 * left), restored when the scope closes, and on the process's way out
 * should it end first.
 */
const rawMode = (host: Streams): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const stdin = host.stdin
      const restore = () => {
        try {
          if (stdin.isRaw === true) stdin.setRawMode?.(false)
        } catch {
          // A terminal that went away has no mode to restore.
        }
      }
      host.events.once("exit", restore)
      stdin.setRawMode?.(true)
      return restore
    }),
    (restore) =>
      Effect.sync(() => {
        host.events.off("exit", restore)
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
export const session = (initial: WindowSize, host: Streams) => (vm: Qemu.Vm): Effect.Effect<void> =>
  Effect.scoped(Effect.gen(function*() {
    yield* rawMode(host)
    let sent = initial
    const sendSize = Effect.suspend(() => {
      const now = windowSize(host)
      if (now.rows === sent.rows && now.columns === sent.columns) return Effect.void
      sent = now
      return vm.sendControl(encodeWindowSizeMessage(now))
    })
    // The terminal may have changed its size while the machine started.
    yield* sendSize
    const keys = events<Uint8Array>((push) => {
      host.stdin.on("data", push)
      host.stdin.resume()
      return () => {
        host.stdin.off("data", push)
        host.stdin.pause()
      }
    })
    const resizes = events<void>((push) => {
      const onResize = () => push(undefined)
      host.events.on("SIGWINCH", onResize)
      return () => void host.events.off("SIGWINCH", onResize)
    })
    yield* Effect.all([
      Stream.runForEach(keys, vm.sendTerminal),
      Stream.runForEach(resizes, () => sendSize)
    ], { concurrency: "unbounded", discard: true })
  }))
