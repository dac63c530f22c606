/**
 * A V8 start-up snapshot of the init, made on the host by the guest's own
 * node: the heap after effect-sysinit, Effect and the platform layers were
 * loaded, so that the guest's node neither parses nor evaluates them at boot
 * (seconds under TCG). The user's module itself is evaluated in the guest,
 * when the snapshot is deserialized, so that it reads the guest's argv and
 * environment. `/init` is only an interpreter line that names the snapshot.
 * Blobs are kept in the cache (`…/effect-sysinit/snapshots`) by the script's
 * and the node binary's identity, so a second run of the same init (each
 * package of `go test -exec`) skips the seconds of making it.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Option, Path, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { createHash } from "node:crypto"
import * as os from "node:os"
import * as NodePath from "node:path"
import * as Cache from "../cache.ts"
import * as AnonymousFile from "../machine/anonymousFile.ts"
import { guestModule } from "../packageFiles.ts"
import type * as SourceMapping from "../sourceMapping.ts"
import * as Bundle from "./Bundle.ts"

/**
 * The snapshot could not be made: the init cannot be bundled as one script
 * (e.g. it uses top-level await), or node refused to snapshot it.
 *
 * @since 0.1.0
 * @category errors
 */
export class SnapshotError extends Data.TaggedError("SnapshotError")<{ readonly reason: string }> {
  override get message(): string {
    return `cannot make a start-up snapshot: ${this.reason}`
  }
}

/**
 * Where the snapshot sits in the guest.
 *
 * @since 0.1.0
 * @category constants
 */
export const guestBlobPath = "/init.blob"

/**
 * `/init`: node with the snapshot; node runs the snapshot's main function and
 * leaves `/init` and the arguments in `process.argv`.
 *
 * @since 0.1.0
 * @category constants
 */
export const launcher: Uint8Array = new TextEncoder().encode(
  `#!${Bundle.guestNodePath} --snapshot-blob=${guestBlobPath}\n// The init runs from ${guestBlobPath}.\n`
)

// A script (CommonJS) has no import.meta: the bundle's one resolves against
// the script that node runs, /init in the guest, looked up when it is used.
const importMetaShim = `const __sysinitImportMeta = {
  get filename() { return process.argv[1] ?? __filename },
  get url() { return require("node:url").pathToFileURL(this.filename).href },
  get dirname() { return require("node:path").dirname(this.filename) }
};`

// node:os reads uname once, when it is loaded: in a snapshot that is the
// host's. Its answers are read again in the guest, when first asked for.
const guestOsInformation = `function guestOsInformation() {
  const os = require("node:os")
  let header
  const uname = () => (header ??= process.report.getReport().header)
  os.type = () => uname().osName
  os.release = () => uname().osRelease
  os.version = () => uname().osVersion
  os.machine = () => uname().osMachine
  require("node:module").syncBuiltinESMExports()
}`

// Loads the library into the snapshot and runs it once on the in-memory
// kernel; the user's module waits for the guest, imported through the entry
// guard. The runner's modules are bundled by their paths: the runner is not
// among the package's exports.
const snapshotEntry = (entry: string, options: Options) =>
  `import * as Init from "effect-sysinit/Init"
import * as SnapshotWarmup from ${JSON.stringify(guestModule("snapshotWarmup"))}
import * as EntryGuard from ${JSON.stringify(guestModule("entryGuard"))}
import { startupSnapshot } from "node:v8"
${guestOsInformation}
globalThis[Symbol.for("effect-sysinit/Init")] = Init
${options.warmup === false ? "" : "SnapshotWarmup.run()"}
startupSnapshot.setDeserializeMainFunction(() => {
  guestOsInformation()
  return EntryGuard.run(() => import(${JSON.stringify(entry)}))
})
`

/**
 * How the snapshot is made.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Run the library once on the in-memory kernel first (`snapshotWarmup`); true by default. */
  readonly warmup?: boolean | undefined
  /** Minify the script that is snapshotted; false by default. */
  readonly minify?: boolean | undefined
}

/**
 * A snapshot and the koffi native binary the init needs beside `/init`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly blob: Uint8Array
  readonly koffiNative: string | undefined
  /**
   * The snapshotted script's source map, under the name the guest's stack
   * frames give the script; made only when asked for (esbuild bundles once
   * more), which the runner does only to show a stack trace.
   */
  readonly sourceMap: Effect.Effect<SourceMapping.Generated, SnapshotError>
  /** The files esbuild read for the script, absolute. */
  readonly inputs: ReadonlyArray<string>
}

/** The script that is snapshotted: the init bundled as one CommonJS script. */
const script = (entry: string, options: Options) => {
  const absoluteEntry = NodePath.resolve(entry)
  return Bundle.build(entry, {
    contents: snapshotEntry(absoluteEntry, options),
    resolveDir: NodePath.dirname(absoluteEntry),
    format: "cjs",
    minify: options.minify ?? false,
    define: { "import.meta": "__sysinitImportMeta" },
    banner: importMetaShim
  }).pipe(Effect.mapError((error) => new SnapshotError({ reason: error.reason })))
}

// V8 names the script by the path node was given: a file without a name, so /proc/<pid>/fd/<n> of the
// run that made the blob, which may be an earlier one when the blob comes from the cache.
const generatedOf = (map: Effect.Effect<string, Bundle.BundleError>) =>
  map.pipe(
    Effect.mapError((error) => new SnapshotError({ reason: error.reason })),
    Effect.map((text): SourceMapping.Generated => ({
      names: [/\/proc\/\d+\/fd\/\d+/],
      map: text,
      lineOffset: 0,
      sourceRoot: process.cwd()
    }))
  )

/**
 * The source map of the script a snapshot of `entry` was made from (esbuild
 * bundles it again), for the stack traces of a guest that ran it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sourceMapOf = (entry: string, options: Options = {}) =>
  Effect.flatMap(script(entry, options), (built) => generatedOf(built.sourceMap))

/**
 * How many snapshots, and how many bytes, the cache keeps: those used last.
 * `SYSINIT_SNAPSHOTS_MAX` and `SYSINIT_SNAPSHOTS_MAX_MB` change them.
 *
 * @since 0.1.0
 * @category constants
 */
export const limits: Cache.Limits = Cache.limitsOf("SNAPSHOTS", { entries: 24, megabytes: 512 })

/** Removes the snapshots beyond `limits`, least recently used first (and blobs of an older format). */
const trim = (folder: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const snapshots: Array<{ readonly file: string; readonly bytes: number; readonly usedAt: number }> = []
    for (const name of yield* fs.readDirectory(folder)) {
      const file = path.join(folder, name)
      if (name.endsWith(".blob")) yield* fs.remove(file)
      if (!name.endsWith(".sealed")) continue
      const info = yield* fs.stat(file)
      snapshots.push({
        file,
        bytes: Number(info.size),
        usedAt: Option.getOrElse(info.mtime, () => new Date(0)).getTime()
      })
    }
    for (const snapshot of Cache.beyondLimits(snapshots, limits)) yield* fs.remove(snapshot.file)
  }).pipe(Effect.ignore)

/**
 * Bundles `entry` as one script and snapshots it with `node`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("Snapshot.make")(function*(
  entry: string,
  node: string,
  options: Options = {}
): Effect.fn.Return<
  Snapshot,
  SnapshotError,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const built = yield* script(entry, options)
  const koffiNative = built.koffiNative
  const sourceMap = generatedOf(built.sourceMap)
  // The same script snapshotted by the same node gives an equivalent blob: kept in the cache, by both.
  const nodeInfo = yield* fs.stat(node).pipe(Effect.option)
  const key = createHash("sha256").update(built.code).update(
    `\0${node}\0${
      Option.match(nodeInfo, {
        onNone: () => "",
        onSome: (info) => `${info.size}:${Option.getOrUndefined(info.mtime)?.getTime()}`
      })
    }`
  ).digest("hex")
  const cached = path.join(yield* Cache.folder("snapshots"), `${key}.sealed`)
  // A damaged blob would crash the guest's node: one that fails its checksum is made again.
  const hit = Option.flatMap(yield* fs.readFile(cached).pipe(Effect.option), Cache.unseal)
  if (Option.isSome(hit)) {
    const at = new Date()
    yield* Effect.ignore(fs.utimes(cached, at, at))
    return { blob: hit.value, koffiNative, sourceMap, inputs: built.inputs } satisfies Snapshot
  }
  return yield* Effect.gen(function*() {
    // Files without a name: nothing is left on disk if the runner is killed meanwhile.
    const scriptFile = yield* AnonymousFile.make
    const blobFile = yield* AnonymousFile.make
    yield* fs.writeFileString(scriptFile.path, built.code)
    const handle = yield* spawner.spawn(
      ChildProcess.make(node, ["--snapshot-blob", blobFile.path, "--build-snapshot", scriptFile.path], {
        cwd: os.tmpdir(),
        stdin: "ignore",
        stdout: "ignore"
      })
    )
    const [stderr, exitCode] = yield* Effect.all([
      handle.stderr.pipe(Stream.decodeText(), Stream.mkString),
      handle.exitCode
    ], { concurrency: 2 })
    if (exitCode !== 0) return yield* new SnapshotError({ reason: `node exited with ${exitCode}: ${stderr.trim()}` })
    const blob = yield* fs.readFile(blobFile.path)
    if (blob.length === 0) return yield* new SnapshotError({ reason: `${node} wrote no snapshot` })
    // Written beside, then renamed: a concurrent run (go test of several packages) never reads half a blob.
    yield* Effect.ignore(Cache.writeFile(cached, Cache.seal(blob)))
    yield* trim(path.dirname(cached))
    return { blob, koffiNative, sourceMap, inputs: built.inputs } satisfies Snapshot
  }).pipe(
    Effect.scoped,
    Effect.catchTag(
      ["PlatformError", "TemporaryFileError"],
      (error) => Effect.fail(new SnapshotError({ reason: error.message }))
    )
  )
})
