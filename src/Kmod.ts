/**
 * Loading kernel modules.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Abi from "./internal/abi.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * The compression of a module file, by its extension: `.ko.gz`, `.ko.xz`,
 * `.ko.zst`, or none.
 *
 * @since 0.1.0
 * @category models
 */
export type Compression = "gzip" | "xz" | "zstd" | "none"

/**
 * @since 0.1.0
 * @category operations
 */
export const compressionOf = (path: string): Compression =>
  path.endsWith(".gz") ? "gzip" : path.endsWith(".xz") ? "xz" : path.endsWith(".zst") ? "zstd" : "none"

/**
 * Loads the module file at `path` with `params` (e.g. `"numdummies=2"`)
 * through finit_module(2), asking the kernel to decompress a `.gz`, `.xz` or
 * `.zst` file itself.
 *
 * @since 0.1.0
 * @category operations
 */
export const loadModule = Effect.fn("Kmod.loadModule")(
  function*(path: string, params = ""): Effect.fn.Return<void, SyscallError, Syscalls> {
    const syscalls = yield* Syscalls
    const flags = compressionOf(path) === "none" ? 0 : Abi.MODULE_INIT_COMPRESSED_FILE
    yield* syscalls.finitModule(path, params, flags)
  }
)

/**
 * Loads every file matching a glob pattern (e.g. `/lib/modules/*.ko`) in
 * sorted order, skipping directories; the first failure stops the rest.
 *
 * @since 0.1.0
 * @category operations
 */
export const loadModules = Effect.fn("Kmod.loadModules")(
  function*(pattern: string): Effect.fn.Return<void, SyscallError, Syscalls> {
    const syscalls = yield* Syscalls
    for (const path of yield* syscalls.glob(pattern)) {
      if ((yield* syscalls.fileType(path)) === "directory") continue
      yield* loadModule(path)
    }
  }
)

/**
 * A step of `Sysinit.run`: `loadModules`.
 *
 * @since 0.1.0
 * @category steps
 */
export const withModules = (pattern: string): Effect.Effect<void, SyscallError, Syscalls> => loadModules(pattern)
