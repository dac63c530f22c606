/**
 * The runner's verdict on a run: its exit code and what it says on stderr,
 * from how the guest ended (`consoleLog`'s reading of console 0, or QEMU
 * killed after the timeout). Pure, so that each ending is a row of a table
 * test.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"
import type { Transport } from "../../protocol/consoles.ts"
import { exitCodes, exitStatusOf } from "../exitCodes.ts"
import { initEnding, type Outcome } from "./consoleLog.ts"

/**
 * What to tell the user when a run under KVM hung or failed.
 *
 * @since 0.1.0
 * @category constants
 */
export const kvmHint = "KVM was used: if it does not work on this host, pass --no-kvm to boot under TCG"

const moreMemory = "give the guest more with --memory"

const outOfMemoryReason = (reason: string): string =>
  /^FATAL ERROR|^Fatal /.test(reason)
    ? `out of memory: the init's JavaScript heap reached V8's limit, which V8 sizes from the guest's memory (${reason}); ${moreMemory}`
    : reason.startsWith("Kernel panic: ")
    ? `out of memory: the guest's memory is full and the kernel cannot free any (${reason}); ${moreMemory}`
    : `out of memory: the kernel's OOM killer stopped a process (${reason}); ${moreMemory}`

/**
 * The runner's exit code and what it says on stderr (without the
 * `effect-sysinit: ` prefix), if anything, for an outcome; a timeout
 * under KVM also says to pass `--no-kvm`.
 *
 * @since 0.1.0
 * @category verdict
 */
export const exitOf = (
  outcome: Outcome,
  kvm = false
): { readonly code: number; readonly reason: string | undefined } => {
  switch (outcome._tag) {
    case "Exited": {
      const status = exitStatusOf(outcome.code)
      if (status === outcome.code) return { code: status, reason: undefined }
      return {
        code: status,
        reason: `guest exit code ${outcome.code}, exit status ${status}` +
          (status === 255 && outcome.code % 256 === 0
            ? " (the code is 0 modulo 256; a non-zero code never exits 0)"
            : " (modulo 256)")
      }
    }
    case "KernelPanic": {
      const ending = initEnding(outcome.reason)
      return {
        code: exitCodes.KernelPanic,
        reason: `guest error: kernel panic: ${outcome.reason}${ending === undefined ? "" : ` (${ending})`}`
      }
    }
    case "OutOfMemory":
      return { code: exitCodes.OutOfMemory, reason: `guest error: ${outOfMemoryReason(outcome.reason)}` }
    case "InitThrew":
      return { code: exitCodes.NoExitCode, reason: `the init threw before Sysinit.run: ${outcome.error}` }
    case "InitReturned":
      return {
        code: exitCodes.NoExitCode,
        reason: "the init returned without calling Sysinit.run: its module must run it, e.g. Init.main(...steps)"
      }
    case "NoExitCode":
      return { code: exitCodes.NoExitCode, reason: "guest error: no exit code found" }
    case "TimedOut":
      return {
        code: exitCodes.TimedOut,
        reason: `guest timed out after ${Duration.format(outcome.timeout)}, QEMU killed${kvm ? ` (${kvmHint})` : ""}`
      }
  }
}

const logLinePrefix = /^sysinit \S+ \S+ (?:ERROR|FATAL) +/

/**
 * An error entry of the init as the runner shows it: its first line as
 * `effect-sysinit: guest: <message>` (the log prefix and timestamp go; with
 * `--verbose` console 0 shows them), the lines that continue it as they are.
 *
 * @since 0.1.0
 * @category verdict
 */
export const guestErrorLines = (entry: string): string => entry.replace(logLinePrefix, "effect-sysinit: guest: ")

/**
 * How a run ended, as the verdict reads it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ending {
  readonly outcome: Outcome
  /** The init's error log entries. */
  readonly errors: ReadonlyArray<string>
  /** Error entries beyond those kept. */
  readonly droppedErrors: number
  /** Whether console 0 had no line at all: the guest may have had no console. */
  readonly consoleEmpty: boolean
  /** Whether the machine ran under KVM. */
  readonly kvm?: boolean | undefined
}

/**
 * The runner's exit code and its lines for stderr after a run: when the
 * guest reported no exit code, the init's error log entries (unless
 * `verbose` showed all of console 0 already), then the reason.
 *
 * @since 0.1.0
 * @category verdict
 */
export const verdictOf = (
  ending: Ending,
  options: { readonly verbose: boolean; readonly transport: Transport }
): { readonly code: number; readonly lines: ReadonlyArray<string> } => {
  const { code, reason } = exitOf(ending.outcome, ending.kvm ?? false)
  const lines: Array<string> = []
  if (ending.outcome._tag !== "Exited" && !options.verbose) {
    lines.push(...ending.errors.map(guestErrorLines))
    if (ending.droppedErrors > 0) {
      lines.push(`effect-sysinit: and ${ending.droppedErrors} more error entries (--verbose shows console 0)`)
    }
  }
  if (reason !== undefined) {
    const empty = ending.outcome._tag === "NoExitCode" && ending.consoleEmpty
    lines.push(
      `effect-sysinit: ${reason}` + (!empty ? "" : options.transport === "virtio"
        ? ": console 0 stayed empty, the guest had no console (its kernel needs the virtio modules)"
        : ": console 0 stayed empty")
    )
  }
  return { code, lines }
}
