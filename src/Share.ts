/**
 * Host directories in the guest over 9p (QEMU's `virtio-9p-pci`, no host
 * daemon): one share mounted at a path, and the host's whole userland
 * read-only, as virtme-ng gives it, with the guest's own /proc, /sys, /dev
 * and fresh tmpfs where programs write.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Abi from "./internal/abi.ts"
import { type HostRootSpec, ninePMountData, type ShareSpec } from "./protocol/execSpec.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * A 9p share: QEMU's `mount_tag`, where to mount it, and whether read-only.
 *
 * @since 0.1.0
 * @category models
 */
export type { ShareSpec }

/**
 * The host's root as `mountHostRoot` sets it up.
 *
 * @since 0.1.0
 * @category models
 */
export type { HostRootSpec }

/**
 * Mounts the 9p share `tag` at `path` (created first), read-only when asked
 * (`MS_RDONLY`; the host's `readonly=on` refuses writes too). Read-only
 * shares cache pages (`cache=loose`), read-write ones do not (`cache=none`),
 * msize 512000, the most virtio carries. A tag mounts once; mount it again
 * elsewhere with a bind mount.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Share } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   yield* Share.mountShare({ tag: "share0", guest: "/work/project", readOnly: true })
 *   const kernel = yield* Layer.MemoryKernel
 *   const [entry] = kernel.state.mounts
 *   console.log(entry?.fsType, entry?.target, entry?.data)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory({ filesystems: ["9p"] }))))
 * // prints: 9p /work/project trans=virtio,version=9p2000.L,msize=512000,cache=loose
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const mountShare = Effect.fn("Share.mountShare")(function*(share: ShareSpec) {
  const syscalls = yield* Syscalls
  yield* syscalls.mkdirAll(share.guest, 0o755)
  yield* syscalls.mount({
    source: share.tag,
    target: share.guest,
    fsType: "9p",
    flags: share.readOnly ? Abi.MS_RDONLY : 0,
    data: ninePMountData(share.readOnly)
  })
})

/**
 * A step of `Sysinit.run`: mounts each share in order (`mountShare`).
 *
 * @since 0.1.0
 * @category steps
 */
export const withShares = (shares: ReadonlyArray<ShareSpec>): Effect.Effect<void, SyscallError, Syscalls> =>
  Effect.forEach(shares, mountShare, { discard: true })

const bind = (source: string, target: string) =>
  Syscalls.use((syscalls) =>
    Effect.andThen(
      syscalls.mkdirAll(target, 0o755),
      syscalls.mount({ source, target, fsType: "", flags: Abi.MS_BIND | Abi.MS_REC, data: "" })
    )
  )

/**
 * Makes the host's userland the guest's: mounts the host's root read-only at
 * `spec.mountPoint`, binds its directories (e.g. /usr, /etc, /opt, /home)
 * over the guest's, makes the links the host has where the guest has none
 * (`/sbin` → `usr/sbin`), and mounts fresh tmpfs (e.g. /tmp, /run, /var/tmp,
 * /root). The init keeps running: its node and libraries are already mapped.
 *
 * @since 0.1.0
 * @category operations
 */
export const mountHostRoot = Effect.fn("Share.mountHostRoot")(function*(spec: HostRootSpec) {
  const syscalls = yield* Syscalls
  yield* mountShare({ tag: spec.tag, guest: spec.mountPoint, readOnly: true })
  for (const { source, target } of spec.binds) yield* bind(`${spec.mountPoint}${source}`, target)
  for (const link of spec.links) {
    const existing = yield* Effect.result(syscalls.fileType(link.path))
    if (existing._tag === "Failure") yield* syscalls.symlink(link.target, link.path)
  }
  for (const dir of spec.tmpfs) {
    yield* syscalls.mkdirAll(dir, 0o755)
    yield* syscalls.mount({
      source: "tmpfs",
      target: dir,
      fsType: "tmpfs",
      flags: Abi.MS_NOSUID | Abi.MS_NODEV,
      data: dir === "/tmp" || dir === "/var/tmp" ? "mode=1777" : "mode=0755"
    })
  }
})
