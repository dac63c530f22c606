// Timestamps on the guest's monotonic clock, which counts from the same boot
// as the kernel's log timestamps. Kept in memory and written to console 0 in
// one go, and only when the bench passes --timeline.
import * as fs from "node:fs"

export const enabled = process.argv.includes("--timeline")

const lines: Array<string> = []

export const now = (): number => Number(process.hrtime.bigint()) / 1e6

/** When node's process started: performance.now() counts from there. */
export const nodeStarted = (): number => now() - performance.now()

export const mark = (name: string, at: number = now()): void => {
  if (enabled) lines.push(`bench-mark ${name} ${at.toFixed(1)}\n`)
}

export const flush = (): void => {
  if (lines.length === 0) return
  const bytes = Buffer.from(lines.splice(0).join(""))
  for (let offset = 0; offset < bytes.length;) {
    try {
      offset += fs.writeSync(2, bytes, offset)
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") return
    }
  }
}
