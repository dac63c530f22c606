/**
 * V8's code cache for the bundle, made on the host so that the guest's node
 * does not parse and compile the whole bundle again at every boot (seconds
 * under TCG). Node's own compile cache in portable mode: entries are keyed by
 * the path of the module relative to the cache directory, so a cache made
 * beside a copy of the bundle on the host is valid for `/init.mjs` beside
 * `/.node-compile-cache` in the guest. `/init` becomes a launcher that turns
 * the cache on and imports the bundle.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { guestNodePath } from "./Bundle.ts"

/**
 * A file of the cache directory, by its path inside it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheFile {
  readonly path: string
  readonly contents: Uint8Array
}

/**
 * Where the launcher finds the cache in the guest.
 *
 * @since 0.1.0
 * @category constants
 */
export const guestCacheDirectory = "/.node-compile-cache"

/**
 * Where the bundle sits in the guest when `/init` is the launcher.
 *
 * @since 0.1.0
 * @category constants
 */
export const guestBundlePath = "/init.mjs"

/**
 * `/init`: turns the compile cache on, then imports the bundle.
 *
 * @since 0.1.0
 * @category constants
 */
export const launcher: Uint8Array = new TextEncoder().encode(`#!${guestNodePath}
import { enableCompileCache } from "node:module"
enableCompileCache({ directory: ${JSON.stringify(guestCacheDirectory)}, portable: true })
await import(${JSON.stringify(`.${guestBundlePath}`)})
`)

// Compiles the bundle with the cache on, and stops it at its first statement
// (the banner's createRequire) so that no code of the init runs on the host.
const generator = `
import { enableCompileCache, flushCompileCache, registerHooks } from "node:module"
import { pathToFileURL } from "node:url"
const [directory, bundle] = process.argv.slice(1)
const bundleUrl = pathToFileURL(bundle).href
const stop = "data:text/javascript,export function createRequire() { throw new Error('compiled, not run') }"
registerHooks({
  resolve: (specifier, context, next) =>
    specifier === "node:module" && context.parentURL === bundleUrl ? { url: stop, shortCircuit: true } : next(specifier, context)
})
enableCompileCache({ directory, portable: true })
await import(bundleUrl).catch(() => undefined)
flushCompileCache()
`

/**
 * The cache files for `bundle`, made by the guest's own node binary; none
 * when that node cannot make them (it then boots without a cache).
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = Effect.fn("CompileCache.generate")(
  function*(node: string, bundle: Uint8Array) {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const root = yield* fs.makeTempDirectoryScoped({ prefix: "effect-sysinit-cache-" })
    const directory = path.join(root, path.basename(guestCacheDirectory))
    const bundlePath = path.join(root, path.basename(guestBundlePath))
    yield* fs.writeFile(bundlePath, bundle)
    yield* spawner.exitCode(
      ChildProcess.make(node, ["--input-type=module", "-e", generator, directory, bundlePath], {
        // Set where node itself must not cache (vitest sets it for its workers), it would turn this cache off too.
        env: { NODE_DISABLE_COMPILE_CACHE: undefined },
        extendEnv: true,
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore"
      })
    )
    const files: Array<CacheFile> = []
    const walk = (dir: string, prefix: string): Effect.Effect<void, PlatformError> =>
      Effect.gen(function*() {
        for (const name of yield* fs.readDirectory(dir)) {
          const full = path.join(dir, name)
          const relative = prefix === "" ? name : `${prefix}/${name}`
          if ((yield* fs.stat(full)).type === "Directory") yield* walk(full, relative)
          else files.push({ path: relative, contents: yield* fs.readFile(full) })
        }
      })
    yield* walk(directory, "")
    return files as ReadonlyArray<CacheFile>
  },
  Effect.scoped,
  Effect.orElseSucceed((): ReadonlyArray<CacheFile> => [])
)
