/**
 * The in-memory Linux behind `Layer.memory`: one machine's state (file tree,
 * mounts, modules, interfaces, consoles, environment, sysctls, zombies),
 * changed as Linux would and answering with the errnos Linux gives.
 * `memorySyscalls.ts` is the `Syscalls` service over it, `memoryProcess.ts`
 * the `NodeProcess` fake, `memoryPseudoFiles.ts` what /proc, /sys and
 * devtmpfs show, `memoryDescriptors.ts` its open consoles and files.
 */
import { Effect } from "effect"
import * as NodePath from "node:path"
import { decompress, formatOf } from "../formats/decompress.ts"
import * as Modinfo from "../formats/modinfo.ts"
import * as Abi from "../internal/abi.ts"
import { isValidEnvVariable } from "../internal/environ.ts"
import type { ChildEnd, ChildRequest } from "../NodeProcess.ts"
import type { ReapedChild } from "../Syscalls.ts"
import { MemoryDescriptors } from "./memoryDescriptors.ts"
import {
  type ConsolesConfig,
  type ConsoleState,
  defaultFilesystems,
  type LoadedModule,
  type MemoryKernelOptions,
  type MemoryKernelState,
  type MountEntry,
  type Node
} from "./memoryModel.ts"
import { mountAt, virtioSysfsEntries, virtualNode, virtualRead } from "./memoryPseudoFiles.ts"
import { fault, KernelFault } from "./memoryRecorder.ts"

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

const isElf = (image: Uint8Array): boolean =>
  image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46

// The longest host name sethostname(2) takes (__NEW_UTS_LEN).
const hostNameMax = 64

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
  readonly reboots: Array<number> = []
  readonly compressedModules: "decompress" | "EINVAL" | "EOPNOTSUPP"
  readonly builtinModules: ReadonlySet<string>
  /** Zombie children of the init; those Node spawned are Node's to wait for. */
  readonly zombies: Array<{ readonly pid: number; readonly spawnedByNode: boolean }> = []
  readonly reaped: Array<number> = []
  settles = 0
  syncs = 0
  clock: number | undefined = undefined
  entropyBytes = 0
  reseeds = 0
  /** What the init wrote to stderr that reached a console. */
  stderr = ""
  /** The device that descriptors 0, 1 and 2 are open on. */
  stdio: string
  stdoutFd: number | undefined = undefined
  readonly children: Array<ChildRequest> = []
  readonly programs: Readonly<Record<string, (request: ChildRequest) => ChildEnd>>
  readonly descriptors = new MemoryDescriptors(this)

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
    return virtualNode(this, resolved) ?? this.tree.get(resolved)
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
    const virtual = virtualRead(this, resolved)
    if (virtual !== undefined) return encoder.encode(virtual)
    if (node.type !== "file") return fault("EINVAL", file)
    return node.data
  }

  writeFile(file: string, data: string | Uint8Array, mode = 0o644): void {
    const resolved = this.resolve(file)
    const mount = mountAt(this, resolved)
    if (mount?.fsType === "proc") {
      const relative = NodePath.posix.relative(mount.target, resolved)
      const key = relative.startsWith("sys/") ? relative.slice(4).replaceAll("/", ".") : undefined
      if (key === undefined || !this.sysctls.has(key)) {
        return fault(virtualNode(this, resolved) === undefined ? "ENOENT" : "EACCES", file)
      }
      const value = decoder.decode(bytes(data)).replace(/\n$/, "")
      // A write of nothing changes nothing, as proc's handlers do for a count of 0.
      if (value !== "") this.sysctls.set(key, value)
      return
    }
    this.requireParentDirectory(resolved)
    const node = this.lookup(resolved)
    if (node?.type === "directory") return fault("EISDIR", file)
    // The init's umask is 022; an existing file keeps its mode.
    this.tree.set(resolved, {
      type: "file",
      data: bytes(data),
      mode: node?.type === "file" ? node.mode : mode & ~0o022
    })
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
      virtioSysfsEntries(this).map((entry) => NodePath.posix.join(target, entry))
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

  get consoles(): ReadonlyMap<number, Readonly<ConsoleState>> {
    return this.descriptors.consoles
  }

  isTerminal(fd: number): boolean {
    if (fd >= 0 && fd <= 2) return this.stdio !== "/dev/null"
    return this.descriptors.isConsole(fd)
  }

  reopenStdio(device: string): void {
    this.stdio = this.descriptors.openDevice(device)
  }

  writeStderr(text: string): void {
    if (this.stdio !== "/dev/null") this.stderr += text
  }

  setClock(epochMillis: number): void {
    if (!Number.isFinite(epochMillis) || epochMillis < 0) fault("EINVAL")
    this.clock = Math.floor(epochMillis)
  }

  addEntropy(entropy: Uint8Array): void {
    if (this.lookup(this.resolve("/dev/urandom"))?.type !== "device") fault("ENOENT", "/dev/urandom", "open")
    this.entropyBytes += entropy.byteLength
    this.reseeds += 1
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
