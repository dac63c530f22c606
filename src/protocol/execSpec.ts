// What the runner's `exec` (and `shell`) tells the built-in init: the
// program, its arguments, working directory and environment, its stdin or
// its terminal, the host directories to mount, and this run's own files. It
// is the run of the run message (control.ts) that the init gets at its
// ready point. Both sides import this file; the 9p mount options live here
// too.
import type { WindowSize } from "./control.ts"

/** Where a program that is not run in place is put in the guest. */
export const execDirectory = "/exec"

/** Where `--add-module` files are put in the guest, and loaded from before the program starts. */
export const runModulesDirectory = "/lib/modules/run"

/** QEMU's mount tag of the share that holds this run's files (the program, `--add-file`s, …). */
export const runShareTag = "run"

/** Where the init mounts the run's share; each of its files is linked at its own path. */
export const runShareMountPoint = "/.effect-sysinit-run"

/** A host directory shared over 9p: QEMU's `mount_tag` and where the guest mounts it. */
export interface ShareSpec {
  readonly tag: string
  readonly guest: string
  readonly readOnly: boolean
}

/** A mount of the host's root, made before the shares. */
export interface HostRootSpec {
  readonly tag: string
  /** Where the host's root is mounted, read-only. */
  readonly mountPoint: string
  /** Host directories (`source`, a path of the host) bound at `target` in the guest. */
  readonly binds: ReadonlyArray<{ readonly source: string; readonly target: string }>
  /** Symbolic links made when the path is free, e.g. `/sbin` → `usr/sbin`, as the host has them. */
  readonly links: ReadonlyArray<{ readonly path: string; readonly target: string }>
  /** Fresh, empty tmpfs mounts. */
  readonly tmpfs: ReadonlyArray<string>
}

/** The terminal a program runs on: a console, at the size the host's terminal had when the run was made. */
export interface TerminalSpec {
  /** The console's device in the guest (`/dev/virtrun<N>`). */
  readonly device: string
  readonly windowSize: WindowSize
}

/** The whole description. */
export interface ExecSpec {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly hostRoot?: HostRootSpec | undefined
  readonly shares: ReadonlyArray<ShareSpec>
  /** The guest's host name, when not the kernel's. */
  readonly hostname?: string | undefined
  /** A file of this run the program reads as its stdin (what the runner read from its own); /dev/null when absent. */
  readonly stdin?: string | undefined
  /**
   * Runs the program on this terminal rather than on the host pipes (`shell`
   * with a terminal): its stdin, stdout and stderr, and its controlling
   * terminal, in a session of its own.
   */
  readonly terminal?: TerminalSpec | undefined
  /**
   * This run's files on the run share (`runShareTag`), by their guest path;
   * the init links each one there (when the path is free). Absent when the
   * files are in the initramfs already (a kernel without 9p).
   */
  readonly runFiles?: ReadonlyArray<string> | undefined
  /**
   * This run's files when they are few and small: carried in the run itself,
   * each written at its guest path with its mode (`data` is base64).
   */
  readonly inlineFiles?:
    | ReadonlyArray<{ readonly path: string; readonly mode: number; readonly data: string }>
    | undefined
  /** Whether `runModulesDirectory` holds modules to load before the program. */
  readonly modules?: boolean | undefined
}

/** 9p over virtio: QEMU's transport caps msize at 512000. */
export const ninePMsize = 512000

/**
 * mount(2)'s data for a 9p share. Read-only shares cache pages and metadata
 * (`cache=loose`: a second `node` start from the host root 2.22 s → 0.47 s);
 * read-write shares cache nothing, so every write reaches the host at once
 * (with `loose`, a file written and not synced before the reboot arrived
 * empty).
 */
export const ninePMountData = (readOnly: boolean): string =>
  `trans=virtio,version=9p2000.L,msize=${ninePMsize},cache=${readOnly ? "loose" : "none"}`

/**
 * The modules the guest needs for 9p over virtio, by name, as in `.modinfo`;
 * their dependencies come along. No module depends on virtio_pci, the bus
 * driver that finds QEMU's devices: it is named here.
 */
export const ninePModules: ReadonlyArray<string> = ["9p", "9pnet_virtio", "virtio_pci"]

/** Whether a run's description is an exec description. */
export const isExecSpec = (value: unknown): value is ExecSpec => {
  const spec = value as Partial<ExecSpec> | null
  return typeof spec === "object" && spec !== null && typeof spec.command === "string" &&
    Array.isArray(spec.args) && Array.isArray(spec.shares) && typeof spec.env === "object"
}
