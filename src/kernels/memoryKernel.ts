/**
 * The in-memory Linux behind `Layer.memory`: one machine's state (file tree,
 * mounts, modules, interfaces, consoles, environment, sysctls, zombies) and
 * the `Syscalls` service over it, answering with the errnos Linux gives.
 * `memoryProcess.ts` gives the `NodeProcess` fake over the same machine.
 */
import { Effect } from "effect"
import * as NodePath from "node:path"
import { decompress, formatOf } from "../formats/decompress.ts"
import * as Modinfo from "../formats/modinfo.ts"
import * as Abi from "../internal/abi.ts"
import { isValidEnvVariable } from "../internal/environ.ts"
import type { ErrnoName } from "../internal/errno.ts"
import type { ChildEnd, ChildRequest } from "../NodeProcess.ts"
import { consoleLimit, type Transport } from "../protocol/consoles.ts"
import type { ReapedChild, SyscallsShape } from "../Syscalls.ts"
import { KernelFault, type Recorder } from "./memoryRecorder.ts"

function fault(errno: ErrnoName, at?: string, syscall?: string): never {
  throw new KernelFault(errno, at, syscall)
}

export type Node =
  | { readonly type: "directory"; readonly mode: number }
  | { readonly type: "file"; data: Uint8Array; readonly mode: number }
  | { readonly type: "symlink"; readonly target: string }
  | { readonly type: "device" }

export interface MountEntry {
  readonly source: string
  readonly target: string
  readonly fsType: string
  readonly flags: number
  readonly data: string
}

export interface LoadedModule {
  readonly name: string
  readonly path: string | undefined
  readonly params: string
  readonly flags: number
}

export interface ConsoleState {
  readonly device: string
  raw: boolean
  open: boolean
  drained: boolean
  output: Uint8Array
}

export interface ConsolesConfig {
  /** Virtio consoles /dev/hvc0…7, or ISA serial ports /dev/ttyS0…3 listed in /proc/tty/driver/serial. */
  readonly transport: Transport
  /** The ports connected on the host, e.g. [0, 1, 2]. */
  readonly ports: ReadonlyArray<number>
}

export interface MemoryKernelOptions {
  readonly pid?: number
  /** Regular files present at boot, e.g. modules under /lib/modules. Parent directories are created. */
  readonly files?: Readonly<Record<string, string | Uint8Array>>
  readonly directories?: ReadonlyArray<string>
  /** File system types the kernel knows; defaults to those of Debian's stock kernel. */
  readonly filesystems?: ReadonlyArray<string>
  /** Network interfaces and their flags; defaults to a down `lo`. */
  readonly interfaces?: Readonly<Record<string, number>>
  readonly env?: Readonly<Record<string, string>>
  /** Sysctls by dotted key, readable and writable under /proc/sys once /proc is mounted. */
  readonly sysctls?: Readonly<Record<string, string>>
  readonly consoles?: ConsolesConfig
  /**
   * The device the init's stdin, stdout and stderr are open on at start:
   * `/dev/console` (the default), or `/dev/null` when the kernel had no
   * console at boot.
   */
  readonly stdio?: string
  /**
   * How finit_module answers a compressed file with MODULE_INIT_COMPRESSED_FILE:
   * it decompresses the file itself (the default, as Linux 6.4 and later built
   * with every decompressor), or fails with EINVAL (before 6.4) or EOPNOTSUPP
   * (built without in-kernel decompression).
   */
  readonly compressedModules?: "decompress" | "EINVAL" | "EOPNOTSUPP"
  /** Modules loaded at boot, listed in /proc/modules. */
  readonly loadedModules?: ReadonlyArray<string>
  /** Modules built into the kernel: they satisfy other modules' dependencies. */
  readonly builtinModules?: ReadonlyArray<string>
  /** Programs a child may run, by path: how each ends. Any other command fails with ENOENT. */
  readonly programs?: Readonly<Record<string, (request: ChildRequest) => ChildEnd>>
}

export const defaultFilesystems: ReadonlyArray<string> = [
  "bpf",
  "cgroup2",
  "configfs",
  "debugfs",
  "devpts",
  "devtmpfs",
  "fusectl",
  "hugetlbfs",
  "mqueue",
  "proc",
  "pstore",
  "securityfs",
  "sysfs",
  "tmpfs",
  "tracefs"
]

/** Types whose every mount shares one superblock (per namespace); others (tmpfs, proc, devpts…) get a new one. */
const singleSuperblock: ReadonlySet<string> = new Set([
  "cgroup2",
  "configfs",
  "debugfs",
  "devtmpfs",
  "fusectl",
  "mqueue",
  "pstore",
  "securityfs",
  "sysfs",
  "tracefs"
])

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const bytes = (data: string | Uint8Array): Uint8Array => typeof data === "string" ? encoder.encode(data) : data

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

const isElf = (image: Uint8Array): boolean =>
  image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46

// The longest host name sethostname(2) takes (__NEW_UTS_LEN).
const hostNameMax = 64

/**
 * What a test sees of the in-memory machine: its whole state, read-only.
 */
export interface MemoryKernelState {
  readonly pid: number
  readonly tree: ReadonlyMap<string, Node>
  /** Mount table, in mount order. */
  readonly mounts: ReadonlyArray<MountEntry>
  readonly modules: ReadonlyArray<LoadedModule>
  readonly interfaces: ReadonlyMap<string, number>
  readonly env: ReadonlyMap<string, string>
  /** Sysctls by dotted key; `kernel.hostname` is the host name. */
  readonly sysctls: ReadonlyMap<string, string>
  readonly consoles: ReadonlyMap<number, Readonly<ConsoleState>>
  /** Every reboot(2) command, in order. */
  readonly reboots: ReadonlyArray<number>
  /** Zombie children of the init; those Node spawned are Node's to wait for. */
  readonly zombies: ReadonlyArray<{ readonly pid: number; readonly spawnedByNode: boolean }>
  /** The pids reaped with waitpid, in order. */
  readonly reaped: ReadonlyArray<number>
  readonly settles: number
  readonly syncs: number
  /** What the init wrote to stderr that reached a console. */
  readonly stderr: string
  /** The device that descriptors 0, 1 and 2 are open on. */
  readonly stdio: string
  /** Where stdout is redirected, if anywhere. */
  readonly stdoutFd: number | undefined
  /** The children started with `runChild`, in order. */
  readonly children: ReadonlyArray<ChildRequest>
}

/**
 * A Linux machine held in memory: a file tree, a mount table, modules,
 * interfaces, consoles, environment, sysctls. It answers with the errnos
 * Linux gives for the same calls, and keeps every effect inspectable.
 */
export class MemoryMachine implements MemoryKernelState {
  readonly pid: number
  readonly tree = new Map<string, Node>([["/", { type: "directory", mode: 0o755 }]])
  readonly mounts: Array<MountEntry> = []
  readonly modules: Array<LoadedModule> = []
  readonly interfaces: Map<string, number>
  readonly env: Map<string, string>
  readonly sysctls: Map<string, string>
  readonly filesystems: ReadonlySet<string>
  readonly consolesConfig: ConsolesConfig
  readonly consoles = new Map<number, ConsoleState>()
  readonly reboots: Array<number> = []
  readonly compressedModules: "decompress" | "EINVAL" | "EOPNOTSUPP"
  readonly builtinModules: ReadonlySet<string>
  /** Zombie children of the init; those Node spawned are Node's to wait for. */
  readonly zombies: Array<{ readonly pid: number; readonly spawnedByNode: boolean }> = []
  readonly reaped: Array<number> = []
  settles = 0
  syncs = 0
  /** What the init wrote to stderr that reached a console. */
  stderr = ""
  /** The device that descriptors 0, 1 and 2 are open on. */
  stdio: string
  stdoutFd: number | undefined = undefined
  readonly children: Array<ChildRequest> = []
  readonly programs: Readonly<Record<string, (request: ChildRequest) => ChildEnd>>
  private nextFd = 3
  /** Regular files opened with `openConsole`: not terminals; what is written lands in the file. */
  private readonly openFiles = new Map<number, { readonly path: string; offset: number; open: boolean }>()

  constructor(options: MemoryKernelOptions = {}) {
    this.pid = options.pid ?? 1
    this.filesystems = new Set(options.filesystems ?? defaultFilesystems)
    this.interfaces = new Map(Object.entries(options.interfaces ?? { lo: 0 }))
    this.env = new Map(Object.entries(options.env ?? {}))
    this.sysctls = new Map(
      Object.entries(options.sysctls ?? { "net.ipv4.ip_forward": "0", "kernel.hostname": "(none)" })
    )
    this.consolesConfig = options.consoles ?? { transport: "serial", ports: [0, 1] }
    this.stdio = options.stdio ?? "/dev/console"
    this.compressedModules = options.compressedModules ?? "decompress"
    this.builtinModules = new Set(options.builtinModules)
    this.programs = options.programs ?? {}
    for (const name of options.loadedModules ?? []) this.modules.push({ name, path: undefined, params: "", flags: 0 })
    for (const dir of options.directories ?? []) this.mkdirAll(dir, 0o755)
    for (const [file, data] of Object.entries(options.files ?? {})) {
      this.mkdirAll(NodePath.posix.dirname(NodePath.posix.resolve("/", file)), 0o755)
      this.writeFile(file, data)
    }
  }

  // --- paths ---

  /** Resolves symlinks in every component; the last one too unless `followLast` is false. */
  resolve(file: string, followLast = true, depth = 0): string {
    if (file === "") fault("ENOENT", file)
    if (depth > 40) fault("ELOOP", file)
    const parts = NodePath.posix.resolve("/", file).split("/").filter((part) => part !== "")
    let current = "/"
    for (let i = 0; i < parts.length; i++) {
      const next = NodePath.posix.join(current, parts[i]!)
      const node = this.lookup(next)
      const isLast = i === parts.length - 1
      if (node?.type === "symlink" && (!isLast || followLast)) {
        const target = NodePath.posix.resolve(current, node.target)
        current = this.resolve(target, true, depth + 1)
        continue
      }
      if (!isLast && node !== undefined && node.type !== "directory") fault("ENOTDIR", file)
      current = next
    }
    return current
  }

  /** The node at an already resolved path: the file tree, or what a mounted pseudo file system shows there. */
  lookup(resolved: string): Node | undefined {
    return this.virtualNode(resolved) ?? this.tree.get(resolved)
  }

  private mountAt(resolved: string): MountEntry | undefined {
    let best: MountEntry | undefined
    for (const entry of this.mounts) {
      const inside = resolved === entry.target || resolved.startsWith(entry.target === "/" ? "/" : `${entry.target}/`)
      if (inside && (best === undefined || entry.target.length >= best.target.length)) best = entry
    }
    return best
  }

  private virtualNode(resolved: string): Node | undefined {
    const mount = this.mountAt(resolved)
    if (mount === undefined) return undefined
    const relative = NodePath.posix.relative(mount.target, resolved)
    switch (mount.fsType) {
      case "proc": {
        if (relative === "tty/driver/serial" || relative === "modules" || relative === "mounts") {
          return { type: "file", data: new Uint8Array(), mode: 0o444 }
        }
        if (relative.startsWith("sys/")) {
          const key = relative.slice(4).replaceAll("/", ".")
          if (this.sysctls.has(key)) return { type: "file", data: new Uint8Array(), mode: 0o644 }
          const prefix = `${key}.`
          if ([...this.sysctls.keys()].some((known) => known.startsWith(prefix))) {
            return { type: "directory", mode: 0o555 }
          }
        }
        return undefined
      }
      case "devtmpfs": {
        const device = /^(hvc|ttyS)(\d+)$/.exec(relative)
        if (device === null) return relative === "console" || relative === "null" ? { type: "device" } : undefined
        const index = Number(device[2])
        if (device[1] === "hvc") {
          return this.consolesConfig.transport === "virtio" && index < consoleLimit.virtio
            ? { type: "device" }
            : undefined
        }
        return index < consoleLimit.serial ? { type: "device" } : undefined
      }
      case "sysfs": {
        const virtio = this.virtioSysfsEntries()
        if (virtio.includes(relative)) return { type: "symlink", target: "../../../devices" }
        if (virtio.some((entry) => entry.startsWith(`${relative}/`))) return { type: "directory", mode: 0o755 }
        const module = /^module\/([^/]+)$/.exec(relative)
        if (module && this.modules.some((loaded) => loaded.name === module[1])) {
          return { type: "directory", mode: 0o755 }
        }
        const net = /^class\/net\/([^/]+)$/.exec(relative)
        if (net && this.interfaces.has(net[1]!)) return { type: "directory", mode: 0o755 }
        return undefined
      }
      default:
        return undefined
    }
  }

  /** What virtio_console shows in sysfs: the device it bound, and one entry per port of the host. */
  private virtioSysfsEntries(): ReadonlyArray<string> {
    if (this.consolesConfig.transport !== "virtio") return []
    return [
      "bus/virtio/drivers/virtio_console/virtio0",
      ...this.consolesConfig.ports.map((port) => `class/virtio-ports/vport0p${port}`)
    ]
  }

  private virtualRead(resolved: string): string | undefined {
    const mount = this.mountAt(resolved)
    if (mount?.fsType !== "proc") return undefined
    const relative = NodePath.posix.relative(mount.target, resolved)
    if (relative === "tty/driver/serial") return this.serialDriverText()
    if (relative === "modules") {
      return this.modules.map((m) => `${m.name} 16384 0 - Live 0x0000000000000000\n`).join("")
    }
    if (relative === "mounts") {
      return this.mounts.map((m) => `${m.source} ${m.target} ${m.fsType} rw 0 0\n`).join("")
    }
    if (relative.startsWith("sys/")) {
      const value = this.sysctls.get(relative.slice(4).replaceAll("/", "."))
      return value === undefined ? undefined : `${value}\n`
    }
    return undefined
  }

  private serialDriverText(): string {
    const lines = ["serinfo:1.0 driver revision:"]
    for (let port = 0; port < consoleLimit.serial; port++) {
      const connected = this.consolesConfig.transport === "serial" && this.consolesConfig.ports.includes(port)
      lines.push(
        connected
          ? `${port}: uart:16550A port:000003F8 irq:4 tx:0 rx:0 RTS|CTS|DSR|CD`
          : `${port}: uart:unknown port:000002E8 irq:3`
      )
    }
    return `${lines.join("\n")}\n`
  }

  private requireParentDirectory(resolved: string): void {
    const parent = this.lookup(NodePath.posix.dirname(resolved))
    if (parent === undefined) fault("ENOENT", resolved)
    if (parent.type !== "directory") fault("ENOTDIR", resolved)
  }

  // --- files ---

  mkdirAll(file: string, mode: number): void {
    if (file === "") fault("ENOENT", file)
    const parts = NodePath.posix.resolve("/", file).split("/").filter((part) => part !== "")
    let current = "/"
    for (const part of parts) {
      current = this.resolve(NodePath.posix.join(current, part))
      const node = this.lookup(current)
      if (node === undefined) this.tree.set(current, { type: "directory", mode })
      else if (node.type !== "directory") fault(current === this.resolve(file) ? "EEXIST" : "ENOTDIR", file)
    }
  }

  readFile(file: string): Uint8Array {
    const resolved = this.resolve(file)
    const node = this.lookup(resolved)
    if (node === undefined) return fault("ENOENT", file)
    if (node.type === "directory") return fault("EISDIR", file)
    const virtual = this.virtualRead(resolved)
    if (virtual !== undefined) return encoder.encode(virtual)
    if (node.type !== "file") return fault("EINVAL", file)
    return node.data
  }

  writeFile(file: string, data: string | Uint8Array): void {
    const resolved = this.resolve(file)
    const mount = this.mountAt(resolved)
    if (mount?.fsType === "proc") {
      const relative = NodePath.posix.relative(mount.target, resolved)
      const key = relative.startsWith("sys/") ? relative.slice(4).replaceAll("/", ".") : undefined
      if (key === undefined || !this.sysctls.has(key)) {
        return fault(this.virtualNode(resolved) === undefined ? "ENOENT" : "EACCES", file)
      }
      const value = decoder.decode(bytes(data)).replace(/\n$/, "")
      // A write of nothing changes nothing, as proc's handlers do for a count of 0.
      if (value !== "") this.sysctls.set(key, value)
      return
    }
    this.requireParentDirectory(resolved)
    const node = this.lookup(resolved)
    if (node?.type === "directory") return fault("EISDIR", file)
    this.tree.set(resolved, { type: "file", data: bytes(data), mode: 0o644 })
  }

  fileType(file: string): "file" | "directory" | "symlink" | "other" {
    const node = this.lookup(this.resolve(file))
    if (node === undefined) return fault("ENOENT", file)
    return node.type === "device" ? "other" : node.type
  }

  symlink(target: string, link: string): void {
    const resolved = this.resolve(link, false)
    if (this.lookup(resolved) !== undefined) fault("EEXIST", link)
    this.requireParentDirectory(resolved)
    this.tree.set(resolved, { type: "symlink", target })
  }

  glob(pattern: string): ReadonlyArray<string> {
    const absolute = NodePath.posix.resolve("/", pattern)
    const sysfs = this.mounts.filter((entry) => entry.fsType === "sysfs").map((entry) => entry.target)
    const virtual = sysfs.flatMap((target) =>
      this.virtioSysfsEntries().map((entry) => NodePath.posix.join(target, entry))
    )
    return [...this.tree.keys(), ...virtual].filter((file) =>
      file !== "/" && NodePath.posix.matchesGlob(file, absolute)
    )
      .toSorted()
  }

  // --- mounts ---

  mount(request: MountEntry): void {
    if (request.target === "") fault("ENOENT", request.target)
    const resolved = this.resolve(request.target)
    const node = this.lookup(resolved)
    if (node === undefined) fault("ENOENT", request.target)
    if (node.type !== "directory") fault("ENOTDIR", request.target)
    if ((request.flags & Abi.MS_BIND) !== 0) {
      // A bind mount needs no file system type, only a source that exists.
      if (this.lookup(this.resolve(request.source)) === undefined) fault("ENOENT", request.source)
      this.mounts.push({ ...request, target: resolved })
      return
    }
    if (!this.filesystems.has(request.fsType)) fault("ENODEV", request.target)
    // Linux refuses the same superblock on the same mount point; these types have one per namespace.
    const top = this.mounts.findLast((entry) => entry.target === resolved)
    if (top?.fsType === request.fsType && singleSuperblock.has(request.fsType)) fault("EBUSY", request.target)
    this.mounts.push({ ...request, target: resolved })
  }

  // --- modules ---

  /**
   * finit_module(2): the kernel reads the file (`open` fails first for a
   * missing one), decompresses it when asked to and able, and judges the
   * bytes, whatever the file is called.
   */
  finitModule(file: string, params: string, flags: number): Effect.Effect<void, KernelFault> {
    let image: Uint8Array
    try {
      image = this.readFile(file)
    } catch (error) {
      if (error instanceof KernelFault) return Effect.fail(new KernelFault(error.errno, file, "open"))
      throw error
    }
    if (image.length === 0 || (flags & ~Abi.MODULE_INIT_COMPRESSED_FILE) !== 0) {
      return Effect.fail(new KernelFault("EINVAL", file))
    }
    if ((flags & Abi.MODULE_INIT_COMPRESSED_FILE) === 0) return this.load(image, file, params, flags)
    if (this.compressedModules !== "decompress") return Effect.fail(new KernelFault(this.compressedModules, file))
    const format = formatOf(image)
    // The kernel's decompressor failing on data it cannot read answers EINVAL.
    if (format === undefined) return Effect.fail(new KernelFault("EINVAL", file))
    return decompress(format, image).pipe(
      Effect.mapError(() => new KernelFault("EINVAL", file)),
      Effect.flatMap((decompressed) => this.load(decompressed, file, params, flags))
    )
  }

  initModule(image: Uint8Array, params: string): Effect.Effect<void, KernelFault> {
    return image.length === 0 ? Effect.fail(new KernelFault("EINVAL")) : this.load(image, undefined, params, 0)
  }

  private load(
    image: Uint8Array,
    file: string | undefined,
    params: string,
    flags: number
  ): Effect.Effect<void, KernelFault> {
    // Without an ELF image the kernel refuses the module outright.
    if (!isElf(image)) return Effect.fail(new KernelFault("ENOEXEC", file))
    return Effect.flatMap(Modinfo.read(image, file ?? "module.ko"), ({ depends, name }) => {
      if (this.modules.some((loaded) => loaded.name === name)) return Effect.fail(new KernelFault("EEXIST", file))
      // A module whose dependencies are not there has unknown symbols: ENOENT.
      const isThere = (dep: string) => this.builtinModules.has(dep) || this.modules.some((m) => m.name === dep)
      if (!depends.every(isThere)) return Effect.fail(new KernelFault("ENOENT", file))
      this.modules.push({ name, path: file, params, flags })
      return Effect.void
    })
  }

  // --- network ---

  interfaceFlags(name: string): number {
    const flags = this.interfaces.get(name)
    if (flags === undefined) return fault("ENODEV", name)
    return flags
  }

  setInterfaceFlags(name: string, flags: number): void {
    if (!this.interfaces.has(name)) fault("ENODEV", name)
    this.interfaces.set(name, flags)
  }

  // --- consoles ---

  /** Opens a device node as Linux would: `ENODEV` for a virtio console the host did not connect. */
  private openDevice(device: string): string {
    const resolved = this.resolve(device)
    const node = this.lookup(resolved)
    if (node === undefined) return fault("ENOENT", device)
    if (node.type === "directory") return fault("EISDIR", device)
    if (node.type !== "device") return fault("ENOTTY", device)
    const hvc = /^\/dev\/hvc(\d+)$/.exec(resolved)
    if (hvc && !this.consolesConfig.ports.includes(Number(hvc[1]))) return fault("ENODEV", device)
    // console=hvc0: without a connected hvc0 the kernel has no console behind /dev/console.
    const noConsole = this.consolesConfig.transport === "virtio" && !this.consolesConfig.ports.includes(0)
    if (resolved === "/dev/console" && noConsole) return fault("ENODEV", device)
    return resolved
  }

  openConsole(device: string): number {
    const file = this.resolve(device)
    if (this.lookup(file)?.type === "file") {
      const fd = this.nextFd++
      this.openFiles.set(fd, { path: file, offset: 0, open: true })
      return fd
    }
    const resolved = this.openDevice(device)
    const fd = this.nextFd++
    this.consoles.set(fd, { device: resolved, raw: false, open: true, drained: true, output: new Uint8Array() })
    return fd
  }

  isTerminal(fd: number): boolean {
    if (fd >= 0 && fd <= 2) return this.stdio !== "/dev/null"
    if (this.openFile(fd) !== undefined) return false
    this.console(fd)
    return true
  }

  reopenStdio(device: string): void {
    this.stdio = this.openDevice(device)
  }

  writeStderr(text: string): void {
    if (this.stdio !== "/dev/null") this.stderr += text
  }

  console(fd: number): ConsoleState {
    const state = this.consoles.get(fd)
    if (state === undefined || !state.open) return fault("EBADF")
    return state
  }

  private openFile(fd: number): { readonly path: string; offset: number; open: boolean } | undefined {
    const file = this.openFiles.get(fd)
    return file?.open ? file : undefined
  }

  /** The console behind a descriptor, for the terminal ioctls: a regular file is `ENOTTY`. */
  terminal(fd: number): ConsoleState {
    if (this.openFile(fd) !== undefined) fault("ENOTTY")
    return this.console(fd)
  }

  write(fd: number, data: Uint8Array): void {
    const file = this.openFile(fd)
    if (file !== undefined) {
      // Opened without O_APPEND or O_TRUNC: writes go at the offset, over what is there.
      const node = this.tree.get(file.path)
      if (node?.type !== "file") return
      const end = file.offset + data.length
      const out = new Uint8Array(Math.max(node.data.length, end))
      out.set(node.data)
      out.set(data, file.offset)
      node.data = out
      file.offset = end
      return
    }
    const state = this.console(fd)
    state.output = concat(state.output, data)
    state.drained = false
  }

  close(fd: number): void {
    const file = this.openFile(fd)
    if (file !== undefined) file.open = false
    else this.console(fd).open = false
  }

  // --- process ---

  sethostname(name: string): void {
    if (Buffer.byteLength(name) > hostNameMax) fault("EINVAL", name)
    this.sysctls.set("kernel.hostname", name)
  }

  zombieChildren(): ReadonlyArray<number> {
    return this.zombies.map((zombie) => zombie.pid)
  }

  /** waitpid(pid, WNOHANG): a zombie child is reaped; any other pid is not a child (ECHILD). */
  waitpid(pid: number): ReapedChild {
    const index = this.zombies.findIndex((zombie) => zombie.pid === pid)
    if (index === -1) fault("ECHILD")
    this.zombies.splice(index, 1)
    this.reaped.push(pid)
    return { pid, status: 0 }
  }

  setEnv(name: string, value: string): void {
    if (!isValidEnvVariable(name, value)) fault("EINVAL", name)
    this.env.set(name, value)
  }
}

/** The `Syscalls` service over an in-memory machine. */
export const makeSyscalls = (machine: MemoryMachine, recorder: Recorder): SyscallsShape => ({
  getpid: recorder.total("getpid", () => machine.pid),
  mount: (request) => recorder.call("mount", "mount", request.target, () => machine.mount(request)),
  reboot: (command) =>
    recorder.call("reboot", "reboot", undefined, () => {
      machine.reboots.push(command)
    }),
  sync: recorder.total("sync", () => {
    machine.syncs += 1
  }),
  sethostname: (name) => recorder.call("sethostname", "sethostname", name, () => machine.sethostname(name)),
  finitModule: (file, params, flags) =>
    recorder.call("finitModule", "finit_module", file, () => machine.finitModule(file, params, flags)),
  initModule: (image, params) =>
    recorder.call("initModule", "init_module", undefined, () => machine.initModule(image, params)),
  interfaceFlags: (name) => recorder.call("interfaceFlags", "ioctl", name, () => machine.interfaceFlags(name)),
  setInterfaceFlags: (name, flags) =>
    recorder.call("setInterfaceFlags", "ioctl", name, () => machine.setInterfaceFlags(name, flags)),
  openConsole: (device) => recorder.call("openConsole", "open", device, () => machine.openConsole(device)),
  setRawMode: (fd) =>
    recorder.call("setRawMode", "ioctl", undefined, () => {
      machine.terminal(fd).raw = true
    }),
  drain: (fd) =>
    recorder.call("drain", "ioctl", undefined, () => {
      machine.terminal(fd).drained = true
    }),
  write: (fd, data) => recorder.call("write", "write", undefined, () => machine.write(fd, data)),
  close: (fd) => recorder.call("close", "close", undefined, () => machine.close(fd)),
  isTerminal: (fd) => recorder.call("isTerminal", "ioctl", undefined, () => machine.isTerminal(fd)),
  reopenStdio: (device) => recorder.call("reopenStdio", "open", device, () => machine.reopenStdio(device)),
  symlink: (target, link) => recorder.call("symlink", "symlink", link, () => machine.symlink(target, link)),
  mkdirAll: (dir, mode) => recorder.call("mkdirAll", "mkdir", dir, () => machine.mkdirAll(dir, mode)),
  readFile: (file) => recorder.call("readFile", "open", file, () => machine.readFile(file)),
  writeFile: (file, data) => recorder.call("writeFile", "open", file, () => machine.writeFile(file, data)),
  fileType: (file) => recorder.call("fileType", "stat", file, () => machine.fileType(file)),
  glob: (pattern) => recorder.call("glob", "scandir", pattern, () => machine.glob(pattern)),
  zombieChildren: recorder.total("zombieChildren", () => machine.zombieChildren()),
  waitpid: (pid) => recorder.call("waitpid", "waitpid", undefined, () => machine.waitpid(pid))
})
