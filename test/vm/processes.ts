/**
 * What the VM tier's lifetime tests read of the host's processes: children
 * of a process, and whether one is still alive, from /proc.
 */
import * as fs from "node:fs"

interface Stat {
  readonly pid: number
  readonly comm: string
  readonly state: string
  readonly ppid: number
  /** User and system CPU time so far. */
  readonly cpuSeconds: number
}

const ticksPerSecond = 100

const stat = (pid: number): Stat | undefined => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const open = text.indexOf("(")
    const close = text.lastIndexOf(")")
    const fields = text.slice(close + 2).split(" ")
    return {
      pid,
      comm: text.slice(open + 1, close),
      state: fields[0]!,
      ppid: Number(fields[1]),
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
    }
  } catch {
    return undefined
  }
}

const all = (): ReadonlyArray<Stat> =>
  fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((name) => stat(Number(name)) ?? [])

/** The live children of `pid`. */
export const childrenOf = (pid: number): ReadonlyArray<Stat> =>
  all().filter((process) => process.ppid === pid && process.state !== "Z")

/** Whether `pid` runs (a zombie does not). */
export const isAlive = (pid: number): boolean => {
  const found = stat(pid)
  return found !== undefined && found.state !== "Z" && found.state !== "X"
}

/** Polls `check` until it answers something, or fails after `deadlineMs`. */
export const waitFor = async <A>(what: string, check: () => A | undefined, deadlineMs = 120_000): Promise<A> => {
  const until = Date.now() + deadlineMs
  for (;;) {
    const found = check()
    if (found !== undefined) return found
    if (Date.now() > until) throw new Error(`gave up waiting: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
