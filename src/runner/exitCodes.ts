/**
 * The runner's exit codes: the guest's own, or one of the runner's for a
 * command line it refuses, a guest that did not say how it ended, and a
 * failure of the runner itself. The one table of them.
 *
 * @since 0.1.0
 */

/**
 * The runner's own exit codes.
 *
 * @since 0.1.0
 * @category constants
 */
export const exitCodes = {
  /** A flag or argument the runner refuses (unknown flag, missing program, bad value, input that cannot boot); nothing was booted. */
  UsageError: 120,
  /** The guest ended without an exit code: the init never set one, failed, or threw before it ran. */
  NoExitCode: 121,
  KernelPanic: 122,
  OutOfMemory: 123,
  TimedOut: 124,
  /** The runner failed: no kernel, no QEMU, a file it could not write. */
  RunnerFailed: 125
} as const

/**
 * The runner's exit status for a guest's exit code: the code modulo 256, as
 * a shell or Go's `os.Exit` would give it, except that a non-zero code
 * never becomes 0 (success): 256, 512, … exit 255.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const exitStatusOf = (code: number): number => {
  const status = ((code % 256) + 256) % 256
  return status === 0 && code !== 0 ? 255 : status
}

/**
 * The exit status of a runner stopped by a signal: 128 + its number, as a shell reports it.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const signalStatus = (signalNumber: number): number => 128 + signalNumber
