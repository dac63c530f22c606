/**
 * The cache of start-up snapshots: a snapshot is made once per script and
 * node, kept sealed with its checksum, and made again when the kept one is
 * damaged (a damaged blob would crash the guest's node). The host's node
 * makes them, as for an x86_64 guest.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import * as Cache from "../../../src/runner/cache.ts"
import * as Snapshot from "../../../src/runner/image/Snapshot.ts"

const hello = join(import.meta.dirname, "../../../examples/hello.ts")

/** Runs a test's effect with `cache` as the cache directory, removed after. */
const inCache = (cache: string) => <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  effect.pipe(
    Effect.provide(
      Layer.mergeAll(
        NodeServices.layer,
        Layer.succeed(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))
      )
    ),
    Effect.ensuring(Effect.sync(() => fs.rmSync(cache, { recursive: true, force: true })))
  )

describe("the snapshot cache", () => {
  it.live("keeps a snapshot sealed, reuses it, and makes it again when it is damaged", () => {
    const cache = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-snapshots-"))
    const folder = join(cache, "snapshots")
    return Effect.gen(function*() {
      const first = yield* Snapshot.make(hello, process.execPath)
      const [name] = fs.readdirSync(folder)
      assert.match(name!, /^[0-9a-f]{64}\.sealed$/)
      const kept = fs.readFileSync(join(folder, name!))
      assert.strictEqual(kept.length, first.blob.length + 32, "the blob and its SHA-256")

      const again = yield* Snapshot.make(hello, process.execPath)
      assert.isTrue(Buffer.from(again.blob).equals(Buffer.from(first.blob)), "read back from the cache")

      const damaged = Buffer.from(kept)
      damaged[1000] = damaged[1000]! ^ 0xff
      fs.writeFileSync(join(folder, name!), damaged)
      // An entry of the older, unsealed format is cleared when a snapshot is made.
      fs.writeFileSync(join(folder, "old.blob"), "")
      const remade = yield* Snapshot.make(hello, process.execPath)
      // node makes a blob of about the same size, not byte for byte the same one.
      assert.isAbove(remade.blob.length, first.blob.length / 2)
      const rekept = Cache.unseal(fs.readFileSync(join(folder, name!)))
      assert.isTrue(Option.isSome(rekept) && Buffer.from(rekept.value).equals(Buffer.from(remade.blob)))
      assert.deepStrictEqual(fs.readdirSync(folder), [name], "the damaged entry replaced, nothing else left")
    }).pipe(inCache(cache))
  }, 60_000)

  const failures: ReadonlyArray<readonly [string, string, RegExp]> = [
    ["exits with an error", "/bin/false", /^cannot make a start-up snapshot: node exited with 1: $/],
    ["writes no snapshot", "/bin/true", /^cannot make a start-up snapshot: \/bin\/true wrote no snapshot$/],
    ["cannot be run", "/nonexistent/node", /^cannot make a start-up snapshot: NotFound/]
  ]
  for (const [name, node, message] of failures) {
    it.live(`fails, saying why, when the node that makes it ${name}, and keeps nothing`, () => {
      const cache = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-snapshots-"))
      return Effect.gen(function*() {
        const error = yield* Effect.flip(Snapshot.make(hello, node))
        assert.instanceOf(error, Snapshot.SnapshotError)
        assert.match(error.message, message)
        assert.deepStrictEqual(
          fs.existsSync(join(cache, "snapshots")) ? fs.readdirSync(join(cache, "snapshots")) : [],
          []
        )
      }).pipe(inCache(cache))
    }, 60_000)
  }
})
