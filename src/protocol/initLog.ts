// The init's log lines on console 0, which the host reads to tell the user
// why a run ended without an exit code: their format, and the reports of
// the entry guard around the user's module. Both sides import this file.

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

/** One log line: `sysinit <timestamp> <LEVEL> <message>`, the level padded to five. */
export const formatLine = (nanos: bigint, level: string, message: string): string =>
  `${prefix} ${timestamp(nanos)} ${level.toUpperCase().padEnd(5)} ${message}\n`

const linePattern = new RegExp(`^${prefix} \\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{6} ([A-Z]+)\\s*(.*)$`)

/** The level and message of a log line, if it is one. */
export const parseLine = (line: string): { readonly level: string; readonly message: string } | undefined => {
  const match = linePattern.exec(line)
  return match === null ? undefined : { level: match[1]!, message: match[2]! }
}

/** The message that starts the report of a throw before `Sysinit.run`. */
export const threwBeforeRun = "the init threw before Sysinit.run"

/** The report of a module that never called `Sysinit.run`. */
export const returnedWithoutRun = "the init returned without calling Sysinit.run"

/**
 * A global flag that `Sysinit.run` sets when it starts: the runner's entry
 * guard, which imports the user's module, reads it to tell a module that
 * threw or returned before the init ran from one that ran it.
 */
export const runEntered: unique symbol = Symbol.for("effect-sysinit/run-entered")

/** Marks the init as started (see `runEntered`); costs one property write. */
export const markRunEntered = (): void => {
  ;(globalThis as { [runEntered]?: boolean })[runEntered] = true
}
