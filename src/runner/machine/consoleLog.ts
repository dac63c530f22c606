/**
 * What console 0 says about the end of the guest, line by line, as virtrun's
 * `stdout_parser.go` reads it: the init's exit code line, a kernel panic or
 * the OOM killer; and beyond virtrun, what the user needs to see when there
 * is no exit code: the init's error log entries, a throw before
 * `Sysinit.run` (reported by the runner's entry guard), and which panics
 * are the init running out of memory. Pure, so that each kind of line is a
 * unit test.
 *
 * @since 0.1.0
 */
import { Data, type Duration } from "effect"
import * as os from "node:os"
import { parseExitCode } from "../../protocol/exitCode.ts"
import { parseLine, returnedWithoutRun, threwBeforeRun } from "../../protocol/initLog.ts"

/**
 * How the guest ended.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = Data.TaggedEnum<{
  /** The init printed `VIRTRUN_EXIT_CODE: <code>` on console 0. */
  Exited: { readonly code: number }
  /** The kernel panicked for another reason than memory; `reason` is the kernel's text. */
  KernelPanic: { readonly reason: string }
  /** The guest ran out of memory: the OOM killer, a kernel without memory left, or V8's heap limit in the init. */
  OutOfMemory: { readonly reason: string }
  /** The user's module threw before it called `Sysinit.run`; `error` is what it threw, with its stack. */
  InitThrew: { readonly error: string }
  /** The user's module ended, and the event loop with it, without calling `Sysinit.run`. */
  InitReturned: {}
  /** QEMU ended without any of the lines above. */
  NoExitCode: {}
  /** QEMU was killed after `timeout` (by `Qemu.run`, not read from a line). */
  TimedOut: { readonly timeout: Duration.Duration }
}>

/**
 * Constructors and matchers of `Outcome`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Outcome = Data.taggedEnum<Outcome>()

const kernelLine = /^\[\s*\d+\.\d+\] (.*)$/
const kernelPanic = /^Kernel panic - not syncing: (.*)$/
const outOfMemoryKiller = /^Out of memory: /
const kernelOutOfMemory = /^(?:System is deadlocked on memory|Out of memory)/
const killedInit = /^Attempted to kill init! exitcode=(0x[0-9a-f]+)/i
// V8's messages when it gives up on memory (node's OOMErrorHandler prints the first).
const heapExhausted = /^FATAL ERROR: .*out of memory|^Fatal (?:JavaScript|process) out of memory/i

/**
 * Lines kept of one error entry, and error entries kept in all: the rest is
 * on console 0 (`--verbose`).
 *
 * @since 0.1.0
 * @category constants
 */
export const errorLimits = { linesPerEntry: 40, entries: 10 } as const

/**
 * What console 0 said so far.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reading {
  /** The first line that decided how the guest ended, if any yet. */
  readonly outcome: Outcome | undefined
  /** The init's error log entries (`sysinit … ERROR …` and the lines that continue it), in order. */
  readonly errors: ReadonlyArray<string>
  /** Error entries not kept in `errors`, beyond `errorLimits.entries`. */
  readonly droppedErrors: number
  /** What the lines not starting a new entry continue. */
  readonly continuing: "error" | "threw" | undefined
  /** V8's out-of-memory message, when one was seen: a panic of the init after it is out of memory. */
  readonly heapExhausted: string | undefined
  /** Whether console 0 had any line at all. */
  readonly anyLine: boolean
}

/**
 * Nothing read yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptyReading: Reading = {
  outcome: undefined,
  errors: [],
  droppedErrors: 0,
  continuing: undefined,
  heapExhausted: undefined,
  anyLine: false
}

const appendLine = (entry: string, line: string): string => {
  const lines = entry.split("\n").length
  if (lines > errorLimits.linesPerEntry) return entry
  return lines === errorLimits.linesPerEntry ? `${entry}\n    …` : `${entry}\n${line}`
}

const panicOutcome = (reading: Reading, reason: string): Outcome => {
  if (kernelOutOfMemory.test(reason)) return Outcome.OutOfMemory({ reason: `Kernel panic: ${reason}` })
  if (reading.heapExhausted !== undefined && killedInit.test(reason)) {
    return Outcome.OutOfMemory({ reason: reading.heapExhausted })
  }
  return Outcome.KernelPanic({ reason })
}

/**
 * Reads one more line of console 0 (its line ending may still be on it).
 *
 * @since 0.1.0
 * @category parsing
 */
export const readLine = (reading: Reading, rawLine: string): Reading => {
  const line = rawLine.replace(/\r+$/, "")
  const seen: Reading = reading.anyLine ? reading : { ...reading, anyLine: true }
  const decide = (outcome: Outcome): Outcome => seen.outcome ?? outcome

  const code = parseExitCode(line)
  if (code !== undefined) return { ...seen, continuing: undefined, outcome: decide(Outcome.Exited({ code })) }

  const kernel = kernelLine.exec(line)
  if (kernel !== null) {
    const text = kernel[1]!
    const panic = kernelPanic.exec(text)
    if (panic !== null) return { ...seen, continuing: undefined, outcome: decide(panicOutcome(seen, panic[1]!)) }
    if (outOfMemoryKiller.test(text)) {
      return { ...seen, continuing: undefined, outcome: decide(Outcome.OutOfMemory({ reason: text })) }
    }
    return { ...seen, continuing: undefined }
  }

  const logged = parseLine(line)
  if (logged !== undefined) {
    const { level, message } = logged
    if (level !== "ERROR" && level !== "FATAL") return { ...seen, continuing: undefined }
    if (message.startsWith(threwBeforeRun)) {
      const error = message.slice(threwBeforeRun.length).replace(/^:\s*/, "")
      return { ...seen, continuing: "threw", outcome: decide(Outcome.InitThrew({ error })) }
    }
    if (message.startsWith(returnedWithoutRun)) {
      return { ...seen, continuing: undefined, outcome: decide(Outcome.InitReturned()) }
    }
    if (seen.errors.length >= errorLimits.entries) {
      return { ...seen, continuing: undefined, droppedErrors: seen.droppedErrors + 1 }
    }
    return { ...seen, continuing: "error", errors: [...seen.errors, line] }
  }

  if (heapExhausted.test(line) && seen.heapExhausted === undefined) {
    return { ...seen, continuing: undefined, heapExhausted: line }
  }
  if (seen.continuing === "error") {
    const errors = [...seen.errors]
    errors[errors.length - 1] = appendLine(errors[errors.length - 1]!, line)
    return { ...seen, errors }
  }
  if (seen.continuing === "threw" && seen.outcome?._tag === "InitThrew") {
    return { ...seen, outcome: Outcome.InitThrew({ error: appendLine(seen.outcome.error, line) }) }
  }
  return seen
}

/**
 * Reads every line, from nothing.
 *
 * @since 0.1.0
 * @category parsing
 */
export const readLines = (lines: Iterable<string>): Reading => {
  let reading = emptyReading
  for (const line of lines) reading = readLine(reading, line)
  return reading
}

const signalNames = new Map(Object.entries(os.constants.signals).map(([name, number]) => [number, name]))

/**
 * What the kernel's `Attempted to kill init! exitcode=0x…` says of how the
 * init ended, in words: its exit status, or the signal that killed it.
 *
 * @since 0.1.0
 * @category parsing
 */
export const initEnding = (reason: string): string | undefined => {
  const match = killedInit.exec(reason)
  if (match === null) return undefined
  const status = Number.parseInt(match[1]!, 16)
  const signal = status & 0x7f
  if (signal === 0) return `the init exited with status ${(status >> 8) & 0xff}`
  const name = signalNames.get(signal)
  return `the init was killed by signal ${signal}${name === undefined ? "" : ` (${name})`}`
}
