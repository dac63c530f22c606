import { Cause, Clock, Logger } from "effect"
import * as util from "node:util"

/** Every line the init logs starts with this, so hosts and humans can tell it from the kernel's. */
export const prefix = "sysinit"

const pad = (n: number | bigint, width = 2): string => String(n).padStart(width, "0")

/** `2026/11/27 08:53:12.123456`, in UTC, to the microsecond. */
export const timestamp = (nanos: bigint): string => {
  const date = new Date(Number(nanos / 1_000_000n))
  const micros = (nanos / 1_000n) % 1_000_000n
  return `${date.getUTCFullYear()}/${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(micros, 6)}`
}

const show = (value: unknown): string =>
  typeof value === "string" ? value : util.inspect(value, { colors: false, depth: 6, breakLength: Infinity })

const text = (message: unknown): string => Array.isArray(message) ? message.map(show).join(" ") : show(message)

/** A logger that writes plain lines (no ANSI colours) through `write`, one call per line. */
export const make = (write: (line: string) => void): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    const nanos = options.fiber.getRef(Clock.Clock).currentTimeNanosUnsafe()
    const cause = options.cause.reasons.length === 0 ? "" : ` ${Cause.pretty(options.cause)}`
    write(
      `${prefix} ${timestamp(nanos)} ${options.logLevel.toUpperCase().padEnd(5)} ${text(options.message)}${cause}\n`
    )
  })
