/**
 * What console 0 says about the end of the guest, line by line, as virtrun's
 * `stdout_parser.go` reads it: the init's exit code line, a kernel panic or
 * the OOM killer. Pure, so that each kind of line is a unit test.
 *
 * @since 0.1.0
 */
import { Data, type Duration } from "effect"
import { parseExitCode } from "../internal/protocol.ts"

/**
 * How the guest ended.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = Data.TaggedEnum<{
  /** The init printed `VIRTRUN_EXIT_CODE: <code>` on console 0. */
  Exited: { readonly code: number }
  KernelPanic: { readonly line: string }
  OutOfMemory: { readonly line: string }
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

const kernelPanicLine = /^\[[0-9. ]+\] Kernel panic - not syncing: /
const outOfMemoryLine = /^\[[0-9. ]+\] Out of memory: /

/**
 * What a line of console 0 says about the end of the guest, if anything.
 *
 * @since 0.1.0
 * @category parsing
 */
export const classifyLine = (line: string): Outcome | undefined => {
  const text = line.replace(/\r+$/, "")
  const code = parseExitCode(text)
  if (code !== undefined) return Outcome.Exited({ code })
  if (kernelPanicLine.test(text)) return Outcome.KernelPanic({ line: text })
  if (outOfMemoryLine.test(text)) return Outcome.OutOfMemory({ line: text })
  return undefined
}
