/**
 * A fake QEMU for the runner's tests: an executable `qemu-system-x86_64`
 * that writes what a scenario says to the console files it is given
 * (fakeQemuProgram.ts), so that reading consoles, exit codes, timeouts and
 * cleanup are tested in a fraction of a second, without a kernel.
 *
 * For an init that waits at a ready point (`exec`'s: its kernel command
 * line names a control console), it plays the guest's side of the restore
 * protocol too: a boot writes the ready line, takes the run message from
 * the control console, says the started line and only then plays the
 * scenario; with `-qmp` it speaks enough QMP to be saved (`stop`,
 * `migrate` to a state file, `query-migrate`, `quit`) and, started with
 * `-incoming defer`, restored (`migrate-incoming` from that file,
 * `query-status`, `cont`). A state it did not write does not load: QEMU
 * then says so on stderr and exits 1, as the real one does.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { RunMessage, WindowSize } from "../../../src/protocol/control.ts"

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
  /** Dies of this signal at the end instead of exiting. */
  readonly killedBy?: NodeJS.Signals | undefined
  /** Where it records its pid and arguments. */
  readonly record: string
  /** An init with a ready point: console 0's text of the boot before the ready line. */
  readonly bootLog?: string | undefined
  /** An init with a ready point: the boot ends with the scenario played at once, never reaching its ready point. */
  readonly neverReady?: boolean | undefined
  /** Run messages the guest leaves unanswered before it takes one (the runner sends again). */
  readonly ignoreRuns?: number | undefined
  /** How a save (`migrate`) ends: completed by default. */
  readonly save?: "completed" | "failed" | undefined
  /** How a loaded guest reports itself to `query-status`: paused (then `cont`) by default. */
  readonly loadedStatus?: "paused" | "running" | "internal-error" | undefined
  /** A restored guest that ends without taking its run. */
  readonly restoredTakesNoRun?: boolean | undefined
}

/** What the fake saw when it started. */
export interface Recorded {
  readonly pid: number
  readonly args: ReadonlyArray<string>
  /** The files of `-chardev file,id=conN,path=…`, by N. */
  readonly consoleFiles: ReadonlyArray<string>
}

/** What each start of the fake saw and did, in order: its start, each run message it took, each window size. */
export type Event =
  | {
    readonly event: "start"
    readonly pid: number
    readonly args: ReadonlyArray<string>
    /** A boot, or a restore (`-incoming defer`). */
    readonly mode: "boot" | "restore"
    /** Whether it was given a QMP socket (a boot that the runner saves, or a restore). */
    readonly qmp: boolean
  }
  | { readonly event: "run"; readonly pid: number; readonly message: RunMessage; readonly ignored: boolean }
  | { readonly event: "window size"; readonly pid: number; readonly size: WindowSize }
  | { readonly event: "qmp"; readonly pid: number; readonly command: string }

/** A fake QEMU binary in `dir` (named as the real one, so that a PATH can hold it). */
export interface FakeQemu {
  readonly binary: string
  readonly dir: string
  /** What the fake recorded, once it ran (its last start). */
  readonly recorded: () => Recorded
  readonly ran: () => boolean
  /** What all its starts recorded, in order. */
  readonly events: () => ReadonlyArray<Event>
  /** Plays another scenario from its next start on. */
  readonly play: (scenario: Omit<Scenario, "record">) => void
}

/** Byte `i` of a stream of `streamSize` bytes: a pattern that is not periodic in any power of two. */
export const streamByte = (i: number): number => (i * 7 + (i >> 12)) % 251

/** The first line of every state the fake saves, and all that it checks of a state it loads. */
export const stateMagic = "FAKE-QEMU-STATE 1\n"

const program = path.join(import.meta.dirname, "fakeQemuProgram.ts")

const shellQuote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`

/** The file of a fake's events (JSON lines), beside its record. */
export const eventsFile = (record: string): string => `${record}.events`

/** Writes an executable `qemu-system-x86_64` into `dir` that plays `scenario` when started. */
export const make = (dir: string, scenario: Omit<Scenario, "record">): FakeQemu => {
  const record = path.join(dir, "recorded.json")
  const scenarioFile = path.join(dir, "scenario.json")
  const play = (next: Omit<Scenario, "record">) => fs.writeFileSync(scenarioFile, JSON.stringify({ ...next, record }))
  play(scenario)
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
    ran: () => fs.existsSync(record),
    events: () =>
      fs.existsSync(eventsFile(record))
        ? fs.readFileSync(eventsFile(record), "utf8").split("\n").filter((line) => line !== "").map((line) =>
          JSON.parse(line) as Event
        )
        : [],
    play
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
