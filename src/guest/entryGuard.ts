/**
 * The runner's entry in the guest, around the user's module: it imports the
 * module and, when the module throws before `Sysinit.run` has started, or
 * ends (and the event loop with it) without ever calling it, says so on
 * console 0 in the init's log format, so that the host reports that instead
 * of the kernel panic that follows. It costs the guest one promise and one
 * `beforeExit` listener; `Sysinit.run` marks itself started with
 * `protocol.markRunEntered`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as util from "node:util"
import { formatLine, returnedWithoutRun, runEntered, threwBeforeRun } from "../protocol/initLog.ts"

const flags = globalThis as { [runEntered]?: boolean }

// The wall clock to the microsecond, as the init's logger gives it: Date.now() has only milliseconds.
const nowNanos = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n

const report = (message: string): void => {
  try {
    fs.writeSync(2, formatLine(nowNanos(), "ERROR", message))
  } catch {
    // No console 0 (a kernel whose console driver is a module nobody loaded): nothing to tell.
  }
}

/**
 * Imports the user's module through `load` and watches it as described
 * above. A throw after `Sysinit.run` started is left to the run, which
 * reports it as an unhandled rejection.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (load: () => Promise<unknown>): Promise<void> => {
  // A start-up snapshot was made after a warm-up run: only a run in this boot counts.
  flags[runEntered] = false
  let reported = false
  process.on("beforeExit", () => {
    if (flags[runEntered] === true || reported) return
    reported = true
    report(returnedWithoutRun)
  })
  return load().then(() => undefined, (error: unknown) => {
    if (flags[runEntered] === true) throw error
    reported = true
    report(`${threwBeforeRun}: ${util.inspect(error, { colors: false })}`)
    process.exit(1)
  })
}
