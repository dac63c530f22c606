/**
 * Node's compile cache for the guest's node where it runs the same large
 * modules run after run (the vitest pool's worker imports vitest): a folder
 * of the cache directory, shared read-write into each VM at its own path
 * and named by `NODE_COMPILE_CACHE`, so that a VM's node finds those
 * modules compiled instead of parsing and compiling them again under TCG.
 * Node writes each entry under a temporary name and renames it, and checks
 * its checksum when it reads it: VMs that run at once share the folder, and
 * a damaged entry is compiled again. Node never removes an entry, so the
 * folder is trimmed here, least recently used out.
 *
 * @since 0.1.0
 */
import { ConfigProvider, Effect, Path } from "effect"
import * as fs from "node:fs"
import { join } from "node:path"
import * as Cache from "./cache.ts"

/**
 * The variable that turns node's compile cache on, naming its folder.
 *
 * @since 0.1.0
 * @category constants
 */
export const variable = "NODE_COMPILE_CACHE"

/**
 * The bounds of the folder: `SYSINIT_COMPILE_CACHE_MAX` entries and
 * `SYSINIT_COMPILE_CACHE_MAX_MB` MiB, else 4096 and 256.
 *
 * @since 0.1.0
 * @category bounds
 */
export const limits = (): Cache.Limits => Cache.limitsOf("COMPILE_CACHE", { entries: 4096, megabytes: 256 })

/**
 * Removes the entries beyond `limits`, those used longest ago first; an
 * entry that a VM is reading stays readable (it was opened), and one that
 * is gone is compiled again.
 *
 * @since 0.1.0
 * @category bounds
 */
export const trim = (folder: string, within: Cache.Limits): void => {
  const entries = fs.readdirSync(folder, { withFileTypes: true, recursive: true }).flatMap((entry) => {
    if (!entry.isFile()) return []
    const file = join(entry.parentPath, entry.name)
    try {
      const info = fs.statSync(file)
      return [{ file, bytes: info.size, usedAt: Math.max(info.atimeMs, info.mtimeMs) }]
    } catch {
      return []
    }
  })
  for (const entry of Cache.beyondLimits(entries, within)) fs.rmSync(entry.file, { force: true })
}

/**
 * The folder, made when missing and trimmed to its bounds.
 *
 * @since 0.1.0
 * @category folders
 */
export const prepare = (): string => {
  // The environment as it is now: Effect's default provider keeps the one it first read.
  const folder = Effect.runSync(
    Cache.folder("node-compile-cache").pipe(
      Effect.provide(Path.layer),
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv())
    )
  )
  fs.mkdirSync(folder, { recursive: true })
  trim(folder, limits())
  return folder
}
