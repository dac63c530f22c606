import { Cause, Clock, Logger } from "effect"
import * as util from "node:util"
import { formatLine } from "../protocol/initLog.ts"

const show = (value: unknown): string =>
  typeof value === "string" ? value : util.inspect(value, { colors: false, depth: 6, breakLength: Infinity })

const text = (message: unknown): string => Array.isArray(message) ? message.map(show).join(" ") : show(message)

/** A logger that writes plain lines (no ANSI colours) through `write`, one call per line, in the init's log format. */
export const make = (write: (line: string) => void): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    const nanos = options.fiber.getRef(Clock.Clock).currentTimeNanosUnsafe()
    const cause = options.cause.reasons.length === 0 ? "" : ` ${Cause.pretty(options.cause)}`
    write(formatLine(nanos, options.logLevel, `${text(options.message)}${cause}`))
  })
