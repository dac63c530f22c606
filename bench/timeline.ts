/**
 * What a boot's console 0 says about its timing: the kernel's timestamp on
 * its restart line (printed at emergency level, so `quiet` keeps it), and the
 * marks of --timeline, all in ms of the guest's clock since boot.
 */

const restartLine = /^\[\s*(\d+\.\d+)\] reboot: Restarting system/
const markLine = /^bench-mark (\S+) (\d+(?:\.\d+)?)$/
const uptimeLine = /^bench-uptime (\S+) (\d+(?:\.\d+)?)$/

export interface GuestTimes {
  /** ms since boot at the kernel's "reboot: Restarting system". */
  readonly restart: number | undefined
  readonly marks: ReadonlyMap<string, number>
}

export const parseConsole = (lines: ReadonlyArray<string>): GuestTimes => {
  let restart: number | undefined
  const marks = new Map<string, number>()
  for (const line of lines) {
    const restarted = restartLine.exec(line)
    if (restarted !== null) restart = Number(restarted[1]) * 1000
    const mark = markLine.exec(line)
    if (mark !== null) marks.set(mark[1]!, Number(mark[2]))
    const uptime = uptimeLine.exec(line)
    if (uptime !== null) marks.set(uptime[1]!, Number(uptime[2]) * 1000)
  }
  return { restart, marks }
}

/** A stretch of the timeline: from one mark (or boot, "boot") to another (or "restart"). */
export interface Segment {
  readonly name: string
  readonly from: string
  readonly to: string
}

export const at = (times: GuestTimes, mark: string): number | undefined =>
  mark === "boot" ? 0 : mark === "restart" ? times.restart : times.marks.get(mark)

export const duration = (times: GuestTimes, segment: Segment): number | undefined => {
  const from = at(times, segment.from)
  const to = at(times, segment.to)
  return from === undefined || to === undefined ? undefined : to - from
}

// The kernel's part, from its log: the same stretches in every configuration.
const kernelSegments: ReadonlyArray<Segment> = [
  { name: "kernel: boot to initramfs unpacking", from: "boot", to: "kernel-unpack-start" },
  { name: "kernel: initramfs unpacking", from: "kernel-unpack-start", to: "kernel-unpack-done" },
  { name: "kernel: unpacked to /init", from: "kernel-unpack-done", to: "kernel-run-init" },
  { name: "kernel: /init to random numbers ready (crng)", from: "kernel-run-init", to: "kernel-crng-ready" }
]

export const sysinitSegments: ReadonlyArray<Segment> = [
  ...kernelSegments,
  { name: "/init to node start", from: "kernel-run-init", to: "node-started" },
  { name: "boot to node start", from: "boot", to: "node-started" },
  { name: "node start to first line of the bundle", from: "node-started", to: "bundle-started" },
  { name: "bundle's imports evaluated (first line of init code)", from: "bundle-started", to: "init-code" },
  {
    name: "runtime, live kernel (koffi), PID 1 duties, essential mounts",
    from: "init-code",
    to: "essential-mounts-done"
  },
  { name: "system mounts", from: "essential-mounts-done", to: "system-mounts-done" },
  { name: "dev links", from: "system-mounts-done", to: "dev-links-done" },
  { name: "lo up", from: "dev-links-done", to: "lo-up-done" },
  { name: "stdout host pipe", from: "lo-up-done", to: "stdout-pipe-done" },
  { name: "user main (print, exit code)", from: "stdout-pipe-done", to: "main-done" },
  { name: "finalizers", from: "main-done", to: "finalizers-done" },
  { name: "exit line, sync, reboot", from: "finalizers-done", to: "restart" },
  { name: "setup before main (first line of bundle to main)", from: "bundle-started", to: "stdout-pipe-done" }
]

export const peerSegments: ReadonlyArray<Segment> = [
  ...kernelSegments,
  { name: "/init to essential mounts done", from: "kernel-run-init", to: "essential-mounts-done" },
  { name: "boot to essential mounts done", from: "boot", to: "essential-mounts-done" },
  { name: "system mounts", from: "essential-mounts-done", to: "system-mounts-done" },
  { name: "dev links", from: "system-mounts-done", to: "dev-links-done" },
  { name: "lo up", from: "dev-links-done", to: "lo-up-done" },
  { name: "stdout console", from: "lo-up-done", to: "stdout-pipe-done" },
  { name: "spawn to node start", from: "stdout-pipe-done", to: "node-started" },
  { name: "node's bare start-up (node start to program)", from: "node-started", to: "program-started" },
  { name: "program to node exited", from: "program-started", to: "node-exited" },
  { name: "exit line, reboot", from: "node-exited", to: "restart" }
]

export const floorSegments: ReadonlyArray<Segment> = [
  ...kernelSegments,
  { name: "/init to essential mounts done", from: "kernel-run-init", to: "essential-mounts-done" },
  { name: "boot to essential mounts done", from: "boot", to: "essential-mounts-done" },
  { name: "print, exit line, reboot", from: "essential-mounts-done", to: "restart" }
]
