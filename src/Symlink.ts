/**
 * Symbolic links an init creates once its file systems are mounted.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * Links by path, each to its target.
 *
 * @since 0.1.0
 * @category models
 */
export type Symlinks = Readonly<Record<string, string>>

/**
 * The well-known links of /dev that devtmpfs does not create.
 *
 * @since 0.1.0
 * @category constructors
 */
export const devSymlinks = (): Symlinks => ({
  "/dev/core": "/proc/kcore",
  "/dev/fd": "/proc/self/fd/",
  "/dev/rtc": "rtc0",
  "/dev/stderr": "/proc/self/fd/2",
  "/dev/stdin": "/proc/self/fd/0",
  "/dev/stdout": "/proc/self/fd/1"
})

/**
 * Creates every link in sorted order of its path; the first failure stops
 * the rest (a link over an existing path is `EEXIST`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Mount, Symlink } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   yield* Mount.mountAll(Mount.essentialMountPoints())
 *   yield* Symlink.createSymlinks(Symlink.devSymlinks())
 *   const kernel = yield* Layer.MemoryKernel
 *   console.log(kernel.state.tree.get("/dev/stdout"))
 *   const again = yield* Effect.flip(Symlink.createSymlinks({ "/dev/fd": "/proc/self/fd/" }))
 *   console.log(again.message)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: { type: 'symlink', target: '/proc/self/fd/1' }
 * // prints: symlink "/dev/fd": EEXIST (file already exists)
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const createSymlinks = Effect.fn("Symlink.createSymlinks")(
  function*(links: Symlinks): Effect.fn.Return<void, SyscallError, Syscalls> {
    const syscalls = yield* Syscalls
    for (const link of Object.keys(links).toSorted()) {
      yield* syscalls.symlink(links[link]!, link)
    }
  }
)
