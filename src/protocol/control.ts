// The runner's messages to an init that waits at its ready point: the
// point of a boot after which every run differs, where the runner may save
// the machine and restore it for each later run. The init says it is there
// on console 0; the runner sends the run over the control console (a
// console of its own, named to the init by its environment), in a frame;
// the init says on console 0 that it has it. While the run runs, the runner
// may send further messages there: the size of the host's terminal, for the
// terminal of `shell`'s program. Both sides import this file.
import { encodeFrame } from "./frames.ts"

/** The line the init prints on console 0 when it waits for its run. */
export const readyLine = "EFFECT_SYSINIT_READY"

const startedPrefix = "EFFECT_SYSINIT_RUN "

/** The line the init prints on console 0 when it has its run and starts it. */
export const formatStartedLine = (nonce: string): string => `${startedPrefix}${nonce}\n`

/** The nonce a line of console 0 acknowledges, if it is the started line. */
export const parseStartedLine = (line: string): string | undefined =>
  line.startsWith(startedPrefix) ? line.slice(startedPrefix.length).replace(/\r+$/, "") : undefined

/** The variable of the init's environment that names its control console (`/dev/virtrun<N>`). */
export const controlVariable = "EFFECT_SYSINIT_CONTROL"

/**
 * One run: what makes a restored machine a fresh one (the host's wall
 * clock, its randomness), and the init's own part (`exec`'s description).
 */
export interface RunMessage<A = unknown> {
  /** The run's own id; the init acknowledges it with the started line. */
  readonly nonce: string
  /** The host's wall clock when it sent the message, in milliseconds since the epoch. */
  readonly time: number
  /** Bytes of the host's randomness, base64, for the guest's random pool. */
  readonly entropy: string
  readonly run: A
}

/** A message as a frame for the control console. */
export const encodeRunMessage = (message: RunMessage): Buffer =>
  encodeFrame(new TextEncoder().encode(JSON.stringify(message)))

/** The message of a frame's payload, when it is one. */
export const decodeRunMessage = (payload: Uint8Array): RunMessage | undefined => {
  try {
    const value = JSON.parse(new TextDecoder().decode(payload)) as Partial<RunMessage>
    return typeof value.nonce === "string" && typeof value.time === "number" && typeof value.entropy === "string" &&
        "run" in value
      ? value as RunMessage
      : undefined
  } catch {
    return undefined
  }
}

/** A terminal's size in character cells, as `struct winsize` holds it (unsigned shorts). */
export interface WindowSize {
  readonly rows: number
  readonly columns: number
}

/** Whether a value is a count of cells that an unsigned short holds. */
const isCells = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff

/** Whether a value is a window size: whole numbers of cells a `struct winsize` holds. */
export const isWindowSize = (value: unknown): value is WindowSize => {
  const size = value as Partial<WindowSize> | null
  return typeof size === "object" && size !== null && isCells(size.rows) && isCells(size.columns)
}

/** A message after the run: the host's terminal has this size now. */
export const encodeWindowSizeMessage = ({ columns, rows }: WindowSize): Buffer =>
  encodeFrame(new TextEncoder().encode(JSON.stringify({ windowSize: { rows, columns } })))

/** The window size of a frame's payload, when it is a window size message (a run message is not). */
export const decodeWindowSizeMessage = (payload: Uint8Array): WindowSize | undefined => {
  try {
    const value = JSON.parse(new TextDecoder().decode(payload)) as { readonly windowSize?: unknown }
    return isWindowSize(value.windowSize)
      ? { rows: value.windowSize.rows, columns: value.windowSize.columns }
      : undefined
  } catch {
    return undefined
  }
}
