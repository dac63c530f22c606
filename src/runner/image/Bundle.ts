/**
 * Bundles a user's init (.ts or .js) into one ES module for the guest's node,
 * ready to be `/init`: a `#!/usr/bin/node` line first, and koffi told to load
 * its native binary from `./koffi.node` beside the bundle, wherever that is
 * (`/koffi.node` in our initramfs, `/data/koffi.node` under virtrun).
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import type { Plugin } from "esbuild"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import { pathToFileURL } from "node:url"
import { guestModule, requireFromPackage } from "../packageFiles.ts"

/**
 * The interpreter line of the bundle; where the initramfs puts node.
 *
 * @since 0.1.0
 * @category constants
 */
export const guestNodePath = "/usr/bin/node"

/**
 * The file name koffi's native binary must have beside the bundle.
 *
 * @since 0.1.0
 * @category constants
 */
export const koffiNativeName = "koffi.node"

/**
 * esbuild could not bundle the init.
 *
 * @since 0.1.0
 * @category errors
 */
export class BundleError extends Data.TaggedError("BundleError")<{
  readonly entry: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot bundle ${this.entry}: ${this.reason}`
  }
}

/**
 * A bundled init.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bundle {
  /** The bundle, starting with `#!/usr/bin/node`. */
  readonly code: Uint8Array
  /** koffi's native binary for the bundled koffi version, when the init uses koffi. */
  readonly koffiNative: string | undefined
  /**
   * esbuild's source map of `code` (JSON; sources relative to the working
   * directory), made only when asked for: esbuild bundles once more, which
   * the runner does only to show a stack trace.
   */
  readonly sourceMap: Effect.Effect<string, BundleError>
  /** Lines of `code` before esbuild's output: the interpreter line. */
  readonly lineOffset: number
  /** The files esbuild read, absolute: the bundle is the same while none of them changes. */
  readonly inputs: ReadonlyArray<string>
}

/**
 * The entry that esbuild bundles for an init: the runner's entry guard
 * importing the user's module (see `guest/entryGuard`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const guardedEntry = (entry: string): string =>
  `import * as EntryGuard from ${JSON.stringify(guestModule("entryGuard"))}
EntryGuard.run(() => import(${JSON.stringify(NodePath.resolve(entry))}))
`

// process.dlopen, not require: the CommonJS loader's first use (resolution, package scopes) costs some
// 20 ms of every TCG boot, for a path that is known.
const koffiLoader = `import { fileURLToPath } from "node:url"
export function loadStatic() {
  try {
    const native = { exports: {} }
    process.dlopen(native, fileURLToPath(new URL("./${koffiNativeName}", import.meta.url)))
    return native.exports
  } catch {
    return null
  }
}
`

/** The native binary that belongs to the koffi whose loader is at `loaderPath`. */
const koffiNativeFor = (loaderPath: string): string | undefined => {
  const require = createRequire(loaderPath)
  const triplet = `${process.platform}_${process.arch}`
  try {
    const pkg = require.resolve(`@koromix/koffi-${process.platform}-${process.arch}/package.json`)
    return NodePath.join(NodePath.dirname(pkg), triplet, "koffi.node")
  } catch {
    const koffiRoot = NodePath.resolve(NodePath.dirname(loaderPath), "../../..")
    return NodePath.join(koffiRoot, "build", "koffi", triplet, "koffi.node")
  }
}

const koffiBesideBundle = (found: (native: string) => void): Plugin => ({
  name: "koffi-beside-bundle",
  setup(build) {
    build.onLoad({ filter: /[\\/]koffi[\\/]src[\\/]koffi[\\/]src[\\/]static\.c?js$/ }, (args) => {
      const native = koffiNativeFor(args.path)
      if (native !== undefined) found(native)
      return { contents: koffiLoader, loader: "js" }
    })
  }
})

/**
 * What to bundle for the guest: an entry given as text (it imports the
 * user's module and the runner's guest modules by path), as an ES module
 * or as one CommonJS script (what a start-up snapshot takes).
 *
 * @since 0.1.0
 * @category models
 */
export interface BuildOptions {
  readonly contents: string
  /** Where the entry's imports resolve from. */
  readonly resolveDir: string
  readonly format: "esm" | "cjs"
  readonly minify?: boolean | undefined
  readonly define?: Readonly<Record<string, string>> | undefined
  /** Code before the bundle's own. */
  readonly banner?: string | undefined
}

/**
 * What esbuild made of an entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Built {
  readonly code: string
  /** koffi's native binary for the bundled koffi version, when the entry uses koffi. */
  readonly koffiNative: string | undefined
  /**
   * esbuild's source map of `code` (JSON; sources relative to the working
   * directory), made only when asked for: esbuild bundles once more, which
   * the runner does only to show a stack trace.
   */
  readonly sourceMap: Effect.Effect<string, BundleError>
  /** The files esbuild read, absolute. */
  readonly inputs: ReadonlyArray<string>
}

/**
 * The one door to esbuild: bundles an entry for the guest's node 24, with
 * effect-sysinit's own sources (the "source" condition, so that an init
 * bundles without a build of the package) and koffi's loader replaced by one
 * that looks beside the bundle.
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = Effect.fn("Bundle.build")(function*(
  name: string,
  options: BuildOptions
): Effect.fn.Return<Built, BundleError> {
  let koffiNative: string | undefined
  const esbuild = yield* Effect.promise((): Promise<typeof import("esbuild")> =>
    import(pathToFileURL(requireFromPackage.resolve("esbuild")).href)
  )
  const outfile = options.format === "esm" ? "init.mjs" : "init.cjs"
  const run = (sourceMap: boolean) =>
    Effect.tryPromise({
      try: () =>
        esbuild.build({
          stdin: {
            contents: options.contents,
            resolveDir: options.resolveDir,
            sourcefile: "<effect-sysinit entry>",
            loader: "js"
          },
          bundle: true,
          platform: "node",
          target: "node24",
          format: options.format,
          minify: options.minify ?? false,
          conditions: ["source"],
          write: false,
          metafile: true,
          outfile,
          // "external" adds no comment: the code is the same with the map and without.
          ...(sourceMap ? { sourcemap: "external", sourcesContent: false } as const : {}),
          logLevel: "silent",
          ...(options.define === undefined ? {} : { define: { ...options.define } }),
          ...(options.banner === undefined ? {} : { banner: { js: options.banner } }),
          plugins: [koffiBesideBundle((native) => koffiNative = native)]
        }),
      catch: (error) => new BundleError({ entry: name, reason: error instanceof Error ? error.message : String(error) })
    })
  const result = yield* run(false)
  const output = result.outputFiles.find((file) => file.path.endsWith(outfile))
  if (output === undefined) return yield* new BundleError({ entry: name, reason: "esbuild wrote no output" })
  const sourceMap = Effect.flatMap(run(true), (withMap) => {
    const map = withMap.outputFiles.find((file) => file.path.endsWith(".map"))
    return map === undefined
      ? Effect.fail(new BundleError({ entry: name, reason: "esbuild wrote no source map" }))
      : Effect.succeed(map.text)
  })
  // The metafile names inputs relative to the working directory; the entry given as text has a name in <>.
  const inputs = Object.keys(result.metafile.inputs).filter((input) => !input.startsWith("<"))
    .map((input) => NodePath.resolve(input.replace(/^[a-z-]+:/, "")))
  return { code: output.text, koffiNative, sourceMap, inputs }
})

// esbuild's ESM output calls `require` for Node built-ins that CommonJS dependencies require.
const requireShim = `import { createRequire as __sysinitCreateRequire } from "node:module";
const require = __sysinitCreateRequire(import.meta.url);`

/**
 * Bundles `entry` for node 24 as an ES module.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bundle = Effect.fn("Bundle.bundle")(function*(entry: string): Effect.fn.Return<Bundle, BundleError> {
  const built = yield* build(entry, {
    contents: guardedEntry(entry),
    resolveDir: NodePath.dirname(NodePath.resolve(entry)),
    format: "esm",
    banner: requireShim
  })
  const interpreterLine = /^#![^\n]*\n/
  const text = built.code.replace(interpreterLine, "")
  return {
    code: new TextEncoder().encode(`#!${guestNodePath}\n${text}`),
    koffiNative: built.koffiNative,
    sourceMap: built.sourceMap,
    lineOffset: interpreterLine.test(built.code) ? 0 : 1,
    inputs: built.inputs
  }
})
