/**
 * What the in-memory Linux's pseudo file systems show: /proc (the serial
 * driver's table, modules, mounts, sysctls), the console devices of
 * devtmpfs, and what sysfs says of virtio consoles, modules and interfaces.
 */
import * as NodePath from "node:path"
import { consoleLimit } from "../protocol/consoles.ts"
import type { ConsolesConfig, LoadedModule, MountEntry, Node } from "./memoryModel.ts"

/** The machine's state these views read. */
export interface PseudoSource {
  readonly mounts: ReadonlyArray<MountEntry>
  readonly sysctls: ReadonlyMap<string, string>
  readonly consolesConfig: ConsolesConfig
  readonly modules: ReadonlyArray<LoadedModule>
  readonly interfaces: ReadonlyMap<string, number>
}

export const mountAt = (machine: PseudoSource, resolved: string): MountEntry | undefined => {
  let best: MountEntry | undefined
  for (const entry of machine.mounts) {
    const inside = resolved === entry.target || resolved.startsWith(entry.target === "/" ? "/" : `${entry.target}/`)
    if (inside && (best === undefined || entry.target.length >= best.target.length)) best = entry
  }
  return best
}

export const virtualNode = (machine: PseudoSource, resolved: string): Node | undefined => {
  const mount = mountAt(machine, resolved)
  if (mount === undefined) return undefined
  const relative = NodePath.posix.relative(mount.target, resolved)
  switch (mount.fsType) {
    case "proc": {
      if (relative === "tty/driver/serial" || relative === "modules" || relative === "mounts") {
        return { type: "file", data: new Uint8Array(), mode: 0o444 }
      }
      if (relative.startsWith("sys/")) {
        const key = relative.slice(4).replaceAll("/", ".")
        if (machine.sysctls.has(key)) return { type: "file", data: new Uint8Array(), mode: 0o644 }
        const prefix = `${key}.`
        if ([...machine.sysctls.keys()].some((known) => known.startsWith(prefix))) {
          return { type: "directory", mode: 0o555 }
        }
      }
      return undefined
    }
    case "devtmpfs": {
      const device = /^(hvc|ttyS)(\d+)$/.exec(relative)
      if (device === null) return ["console", "null", "urandom"].includes(relative) ? { type: "device" } : undefined
      const index = Number(device[2])
      if (device[1] === "hvc") {
        return machine.consolesConfig.transport === "virtio" && index < consoleLimit.virtio
          ? { type: "device" }
          : undefined
      }
      return index < consoleLimit.serial ? { type: "device" } : undefined
    }
    case "sysfs": {
      const virtio = virtioSysfsEntries(machine)
      if (virtio.includes(relative)) return { type: "symlink", target: "../../../devices" }
      if (virtio.some((entry) => entry.startsWith(`${relative}/`))) return { type: "directory", mode: 0o755 }
      const module = /^module\/([^/]+)$/.exec(relative)
      if (module && machine.modules.some((loaded) => loaded.name === module[1])) {
        return { type: "directory", mode: 0o755 }
      }
      const net = /^class\/net\/([^/]+)$/.exec(relative)
      if (net && machine.interfaces.has(net[1]!)) return { type: "directory", mode: 0o755 }
      return undefined
    }
    default:
      return undefined
  }
}

/** What virtio_console shows in sysfs: the device it bound, and one entry per port of the host. */
export const virtioSysfsEntries = (machine: PseudoSource): ReadonlyArray<string> => {
  if (machine.consolesConfig.transport !== "virtio") return []
  return [
    "bus/virtio/drivers/virtio_console/virtio0",
    ...machine.consolesConfig.ports.map((port) => `class/virtio-ports/vport0p${port}`)
  ]
}

export const virtualRead = (machine: PseudoSource, resolved: string): string | undefined => {
  const mount = mountAt(machine, resolved)
  if (mount?.fsType !== "proc") return undefined
  const relative = NodePath.posix.relative(mount.target, resolved)
  if (relative === "tty/driver/serial") return serialDriverText(machine)
  if (relative === "modules") {
    return machine.modules.map((m) => `${m.name} 16384 0 - Live 0x0000000000000000\n`).join("")
  }
  if (relative === "mounts") {
    return machine.mounts.map((m) => `${m.source} ${m.target} ${m.fsType} rw 0 0\n`).join("")
  }
  if (relative.startsWith("sys/")) {
    const value = machine.sysctls.get(relative.slice(4).replaceAll("/", "."))
    return value === undefined ? undefined : `${value}\n`
  }
  return undefined
}

export const serialDriverText = (machine: PseudoSource): string => {
  const lines = ["serinfo:1.0 driver revision:"]
  for (let port = 0; port < consoleLimit.serial; port++) {
    const connected = machine.consolesConfig.transport === "serial" && machine.consolesConfig.ports.includes(port)
    lines.push(
      connected
        ? `${port}: uart:16550A port:000003F8 irq:4 tx:0 rx:0 RTS|CTS|DSR|CD`
        : `${port}: uart:unknown port:000002E8 irq:3`
    )
  }
  return `${lines.join("\n")}\n`
}
