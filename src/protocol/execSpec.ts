// What the runner's `exec` tells the built-in init: the program, its
// arguments, working directory and environment, and the host directories to
// mount. The kernel command line splits at spaces and carries no quotes, so
// the runner writes this as JSON into the initramfs and the init reads it.
// Both sides import this file; the 9p mount options live here too.

/** Where the runner puts the description in the initramfs. */
export const execSpecPath = "/exec.json"

/** Where a program that is not run in place is copied in the initramfs. */
export const execDirectory = "/exec"

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

/** Reads the description; throws on a malformed one (the runner wrote it). */
export const parseExecSpec = (text: string): ExecSpec => {
  const value = JSON.parse(text) as ExecSpec
  if (typeof value.command !== "string" || !Array.isArray(value.args) || !Array.isArray(value.shares)) {
    throw new Error(`${execSpecPath} is not an exec description`)
  }
  return value
}
