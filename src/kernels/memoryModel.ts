/**
 * The in-memory Linux's model: what a test configures (`MemoryKernelOptions`)
 * and what it sees of the machine (`MemoryKernelState`).
 */
import type { ChildEnd, ChildRequest } from "../NodeProcess.ts"
import type { Transport } from "../protocol/consoles.ts"

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
  /** Set to cooked mode (`setCookedMode`) since raw mode was last set. */
  cooked: boolean
  /** The size `setWindowSize` gave it; undefined before. */
  windowSize: { readonly rows: number; readonly columns: number } | undefined
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

/** The file system types of Debian's stock kernel. */
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
  /** The wall clock set with `setClock`, in milliseconds since the epoch; undefined until set. */
  readonly clock: number | undefined
  /** Bytes mixed into the random pool with `addEntropy`, and how often the generator was reseeded. */
  readonly entropyBytes: number
  readonly reseeds: number
  /** What the init wrote to stderr that reached a console. */
  readonly stderr: string
  /** The device that descriptors 0, 1 and 2 are open on. */
  readonly stdio: string
  /** Where stdout is redirected, if anywhere. */
  readonly stdoutFd: number | undefined
  /** The children started with `runChild`, in order. */
  readonly children: ReadonlyArray<ChildRequest>
}
