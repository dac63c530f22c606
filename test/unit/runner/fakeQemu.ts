/**
 * A fake QEMU for the runner's tests: an executable `qemu-system-x86_64`
 * that writes what a scenario says to the console files it is given
 * (fakeQemuProgram.ts), so that reading consoles, exit codes, timeouts and
 * cleanup are tested in a fraction of a second, without a kernel.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** What the fake QEMU does once started. */
export interface Scenario {
  /** Text written to console N's file (console 0: kernel and init log; 1: the guest's stdout). */
  readonly consoles?: ReadonlyArray<string>
  /** Bytes streamed to console 1 over time (`streamByte(i)` each) before the text of `consoles`. */
  readonly streamSize?: number
  /** Text QEMU itself writes to its stdout and stderr. */
  readonly stdout?: string
  readonly stderr?: string
  /** QEMU's exit code; 0 by default. */
  readonly exitCode?: number
  /**
   * Plays a guest's terminal on the socket console of this number: connects
   * to it as QEMU does, answers the first bytes the runner sends with
   * `reply` and those bytes, and only then writes the consoles' text.
   */
  readonly terminal?: { readonly console: number; readonly reply: string } | undefined
  /** Never exits: waits to be killed. */
  readonly hang?: boolean
  /** Where it records its pid and arguments. */
  readonly record: string
}

/** What the fake saw when it started. */
export interface Recorded {
  readonly pid: number
  readonly args: ReadonlyArray<string>
  /** The files of `-chardev file,id=conN,path=…`, by N. */
  readonly consoleFiles: ReadonlyArray<string>
}

/** A fake QEMU binary in `dir` (named as the real one, so that a PATH can hold it). */
export interface FakeQemu {
  readonly binary: string
  readonly dir: string
  /** What the fake recorded, once it ran. */
  readonly recorded: () => Recorded
  readonly ran: () => boolean
}

/** Byte `i` of a stream of `streamSize` bytes: a pattern that is not periodic in any power of two. */
export const streamByte = (i: number): number => (i * 7 + (i >> 12)) % 251

const program = path.join(import.meta.dirname, "fakeQemuProgram.ts")

const shellQuote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`

/** Writes an executable `qemu-system-x86_64` into `dir` that plays `scenario` when started. */
export const make = (dir: string, scenario: Omit<Scenario, "record">): FakeQemu => {
  const record = path.join(dir, "recorded.json")
  const scenarioFile = path.join(dir, "scenario.json")
  fs.writeFileSync(scenarioFile, JSON.stringify({ ...scenario, record }))
  const binary = path.join(dir, "qemu-system-x86_64")
  // The node running the tests (Node 24, which strips the program's types), whatever node PATH holds.
  fs.writeFileSync(
    binary,
    `#!/bin/sh\nexec ${[process.execPath, "--no-warnings", program, scenarioFile].map(shellQuote).join(" ")} "$@"\n`,
    { mode: 0o755 }
  )
  return {
    binary,
    dir,
    recorded: () => JSON.parse(fs.readFileSync(record, "utf8")) as Recorded,
    ran: () => fs.existsSync(record)
  }
}

/** Whether a process with this pid still exists (a zombie counts: it was not waited for). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false
    throw error
  }
}
