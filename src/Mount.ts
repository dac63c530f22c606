/**
 * Mounting the kernel's pseudo file systems: one at a time, or a set of them
 * in the order that puts parents before children.
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import * as Abi from "./internal/abi.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * The special file system types an init mounts.
 *
 * @since 0.1.0
 * @category constants
 */
export const FSType = {
  Bpf: "bpf",
  Cgroup2: "cgroup2",
  Config: "configfs",
  Debug: "debugfs",
  DevPts: "devpts",
  DevTmp: "devtmpfs",
  FuseCtl: "fusectl",
  HugeTlb: "hugetlbfs",
  Mqueue: "mqueue",
  Proc: "proc",
  Pstore: "pstore",
  Security: "securityfs",
  Sys: "sysfs",
  Tmp: "tmpfs",
  Tracing: "tracefs"
} as const

/**
 * One of `FSType`'s values.
 *
 * @since 0.1.0
 * @category models
 */
export type FSType = typeof FSType[keyof typeof FSType]

/**
 * Flags of mount(2).
 *
 * @since 0.1.0
 * @category constants
 */
export const {
  MS_BIND,
  MS_DIRSYNC,
  MS_LAZYTIME,
  MS_MANDLOCK,
  MS_MOVE,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_NOSYMFOLLOW,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_REMOUNT,
  MS_SHARED,
  MS_SILENT,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE
} = Abi

/**
 * How to mount one file system.
 *
 * @since 0.1.0
 * @category models
 */
export interface MountOptions {
  /** The file system type: one of `FSType`, or any type the kernel knows ("tmpfs", "ext4", …). */
  readonly fsType: FSType | (string & {})
  /** The device or name to mount; defaults to the type's name. */
  readonly source?: string | undefined
  /** mount(2) flags, e.g. `MS_NOSUID | MS_NODEV`. */
  readonly flags?: number | undefined
  /** Options that depend on the type, e.g. `"mode=0755"`. */
  readonly data?: string | undefined
  /** A failure of an optional point does not stop `mountAll`; see `OptionalMountError`. */
  readonly optional?: boolean | undefined
}

/**
 * Mount points by path.
 *
 * @since 0.1.0
 * @category models
 */
export type MountPoints = Readonly<Record<string, MountOptions>>

/**
 * The optional mount points that failed in one `mountAll`, each with its own
 * error, reported together after every other point was mounted.
 *
 * @since 0.1.0
 * @category errors
 */
export class OptionalMountError extends Data.TaggedError("OptionalMountError")<{
  readonly errors: ReadonlyArray<SyscallError>
}> {
  override get message(): string {
    return `optional mount points failed: ${this.errors.map((error) => error.message).join("; ")}`
  }
}

/**
 * Mounts a file system at `path`, creating the directory (mode 0755, with
 * its parents) first. An empty source becomes the type's name.
 *
 * @since 0.1.0
 * @category operations
 */
export const mount = Effect.fn("Mount.mount")(function*(path: string, options: MountOptions) {
  const syscalls = yield* Syscalls
  yield* syscalls.mkdirAll(path, 0o755)
  yield* syscalls.mount({
    source: options.source === undefined || options.source === "" ? options.fsType : options.source,
    target: path,
    fsType: options.fsType,
    flags: options.flags ?? 0,
    data: options.data ?? ""
  })
})

/**
 * The paths of a set of mount points in the order they are mounted:
 * lexicographic, so a parent comes before what is mounted inside it.
 *
 * @since 0.1.0
 * @category operations
 */
export const mountOrder = (points: MountPoints): ReadonlyArray<string> =>
  Object.keys(points).toSorted((a, b) => (a < b ? -1 : a > b ? 1 : 0))

/**
 * Mounts every point in `mountOrder`. A required point that fails stops the
 * rest with its error; optional points that fail are collected and reported
 * together as `OptionalMountError` once all the others are mounted.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Mount } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   const kernel = yield* Layer.MemoryKernel
 *   kernel.fail({ call: "mount", errno: "ENODEV", path: "/sys/kernel/debug" }) // a kernel without debugfs
 *   const points = { ...Mount.essentialMountPoints(), ...Mount.systemMountPoints() }
 *   const error = yield* Effect.flip(Mount.mountAll(points))
 *   console.log(error.message)
 *   const mounted = kernel.state.mounts.map((entry) => entry.target)
 *   console.log(`${mounted.length} of 14 mounted: ${mounted.slice(0, 4).join(" ")} …`)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: optional mount points failed: mount "/sys/kernel/debug": ENODEV (no such device)
 * // prints: 13 of 14 mounted: /dev /dev/hugepages /dev/mqueue /dev/pts …
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const mountAll = Effect.fn("Mount.mountAll")(
  function*(points: MountPoints): Effect.fn.Return<void, SyscallError | OptionalMountError, Syscalls> {
    const failures: Array<SyscallError> = []
    for (const path of mountOrder(points)) {
      const options = points[path]!
      const result = yield* Effect.result(mount(path, options))
      if (result._tag === "Failure") {
        if (!options.optional) return yield* result.failure
        failures.push(result.failure)
      }
    }
    if (failures.length > 0) return yield* new OptionalMountError({ errors: failures })
  }
)

const noSuidDevExec = Abi.MS_NOSUID | Abi.MS_NODEV | Abi.MS_NOEXEC

/**
 * `/dev`, `/proc` and `/sys`: what the init and its host need before anything
 * else. `Sysinit.run` mounts them first; they are required.
 *
 * @since 0.1.0
 * @category constructors
 */
export const essentialMountPoints = (): MountPoints => ({
  "/dev": { fsType: FSType.DevTmp, flags: Abi.MS_NOSUID },
  "/proc": { fsType: FSType.Proc, flags: noSuidDevExec },
  "/sys": { fsType: FSType.Sys, flags: noSuidDevExec }
})

/**
 * The other pseudo file systems a system usually has, all optional: a kernel
 * built without one just logs its failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const systemMountPoints = (): MountPoints => ({
  "/dev/hugepages": { fsType: FSType.HugeTlb, optional: true },
  "/dev/mqueue": { fsType: FSType.Mqueue, flags: noSuidDevExec, optional: true },
  "/dev/pts": { fsType: FSType.DevPts, flags: Abi.MS_NOSUID | Abi.MS_NOEXEC, optional: true },
  "/sys/fs/bpf": { fsType: FSType.Bpf, flags: noSuidDevExec, optional: true },
  "/sys/fs/cgroup": { fsType: FSType.Cgroup2, flags: noSuidDevExec, optional: true },
  "/sys/fs/fuse/connections": { fsType: FSType.FuseCtl, flags: noSuidDevExec, optional: true },
  "/sys/fs/pstore": { fsType: FSType.Pstore, flags: noSuidDevExec, optional: true },
  "/sys/kernel/config": { fsType: FSType.Config, flags: noSuidDevExec, optional: true },
  "/sys/kernel/debug": { fsType: FSType.Debug, flags: noSuidDevExec, optional: true },
  "/sys/kernel/security": { fsType: FSType.Security, flags: noSuidDevExec, optional: true },
  "/sys/kernel/tracing": { fsType: FSType.Tracing, flags: noSuidDevExec, optional: true }
})

/**
 * A step of `Sysinit.run`: `mountAll`, logging each optional failure and
 * going on.
 *
 * @since 0.1.0
 * @category steps
 */
export const withMountPoints = (points: MountPoints): Effect.Effect<void, SyscallError, Syscalls> =>
  mountAll(points).pipe(
    Effect.catchTag(
      "OptionalMountError",
      (error) =>
        Effect.forEach(error.errors, (failure) => Effect.logWarning(`optional mount failed: ${failure.message}`), {
          discard: true
        })
    )
  )
