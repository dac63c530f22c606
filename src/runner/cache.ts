/**
 * The runner's cache directory: `$SYSINIT_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/effect-sysinit`, else `~/.cache/effect-sysinit` (the
 * fetch scripts of `libexec/` compute the same), and how an entry is
 * written into it: whole or not at all.
 *
 * @since 0.1.0
 */
import { Config, Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"

const variable = (name: string) =>
  Config.option(Config.String(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/**
 * The cache directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const root: Effect.Effect<string, never, Path.Path> = Effect.gen(function*() {
  const path = yield* Path.Path
  const explicit = yield* variable("SYSINIT_CACHE_DIR")
  if (Option.isSome(explicit)) return explicit.value
  const xdg = yield* variable("XDG_CACHE_HOME")
  const home = yield* variable("HOME")
  const base = Option.getOrElse(xdg, () => path.join(Option.getOrElse(home, () => "/root"), ".cache"))
  return path.join(base, "effect-sysinit")
})

/**
 * A folder of the cache directory (`kernel`, `snapshots`, `kvm`, …).
 *
 * @since 0.1.0
 * @category constants
 */
export const folder = (name: string): Effect.Effect<string, never, Path.Path> =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    return path.join(yield* root, name)
  })

/**
 * Writes a file of the cache whole: into a name of this process first,
 * then renamed into place, so that a reader (another run) sees all of it
 * or none.
 *
 * @since 0.1.0
 * @category writing
 */
export const writeFile = Effect.fn("Cache.writeFile")(function*(
  file: string,
  contents: Uint8Array | string
): Effect.fn.Return<void, PlatformError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  yield* fs.makeDirectory(path.dirname(file), { recursive: true })
  const partial = `${file}.${process.pid}.partial`
  yield* (typeof contents === "string" ? fs.writeFileString(partial, contents) : fs.writeFile(partial, contents))
  yield* fs.rename(partial, file).pipe(Effect.onError(() => Effect.ignore(fs.remove(partial))))
})
