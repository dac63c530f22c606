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

// The kernel's own milestones, from its log (printed at info level, so `quiet` keeps them out of console 0
// but not out of /dev/kmsg, whose records carry the same clock in µs: "6,123,1964054,-;Freeing initrd memory").
export const kernelMilestones: ReadonlyArray<readonly [name: string, message: string]> = [
  ["kernel-unpack-start", "Trying to unpack rootfs image as initramfs"],
  ["kernel-unpack-done", "Freeing initrd memory"],
  ["kernel-run-init", "Run /init as init process"],
  // getrandom(2) blocks until then.
  ["kernel-crng-ready", "random: crng init done"]
]

const markKernelMilestones = (): void => {
  let fd: number
  try {
    fd = fs.openSync("/dev/kmsg", fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  } catch {
    return
  }
  const record = Buffer.alloc(8192)
  try {
    for (;;) {
      const read = fs.readSync(fd, record, 0, record.length, null)
      const text = record.toString("utf8", 0, read)
      const [prefix = "", message = ""] = text.split(";", 2)
      const micros = Number(prefix.split(",")[2])
      for (const [name, start] of kernelMilestones) {
        if (message.startsWith(start)) mark(name, micros / 1000)
      }
    }
  } catch {
    // EAGAIN: the end of the log (EPIPE: a record overwritten while reading, skipped).
  } finally {
    fs.closeSync(fd)
  }
}

export const flush = (): void => {
  if (enabled) markKernelMilestones()
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
