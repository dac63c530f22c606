// The line by which the init tells the host its exit code on console 0, as
// virtrun's `transport/exit_code.go` has it. Both sides import this file.

const exitCodeIdentifier = "VIRTRUN_EXIT_CODE"
const exitCodePattern = new RegExp(`^${exitCodeIdentifier}: (-?\\d+)\\r*$`)

/** The line the init prints on console 0 to report its exit code (which may be above 255). */
export const formatExitCode = (code: number): string => `${exitCodeIdentifier}: ${code}\n`

/** The exit code a line of console 0 reports, if it is an exit code line. */
export const parseExitCode = (line: string): number | undefined => {
  const match = exitCodePattern.exec(line)
  return match === null ? undefined : Number(match[1])
}
