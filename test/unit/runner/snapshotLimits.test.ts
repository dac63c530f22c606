/**
 * The snapshot cache is bounded: past SYSINIT_SNAPSHOTS_MAX (one here,
 * read when the module loads), the snapshots used longest ago are removed
 * when a new one is made. Two scripts of one init (with and without the
 * warm-up) are two snapshots.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"

process.env["SYSINIT_SNAPSHOTS_MAX"] = "1"
const Snapshot = await import("../../../src/runner/image/Snapshot.ts")

const hello = join(import.meta.dirname, "../../../examples/hello.ts")

describe("the snapshot cache's bound", () => {
  it.live("keeps the snapshot made last, and removes the one used before", () => {
    const cache = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-snapshots-"))
    const folder = join(cache, "snapshots")
    return Effect.gen(function*() {
      yield* Snapshot.make(hello, process.execPath, { warmup: false })
      const [first] = fs.readdirSync(folder)
      const second = yield* Snapshot.make(hello, process.execPath)
      const kept = fs.readdirSync(folder)
      assert.lengthOf(kept, 1)
      assert.notStrictEqual(kept[0], first, "the earlier snapshot is gone")
      assert.isAbove(second.blob.length, 0)
    }).pipe(
      Effect.provide(Layer.mergeAll(
        NodeServices.layer,
        ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))
      )),
      Effect.ensuring(Effect.sync(() => fs.rmSync(cache, { recursive: true, force: true })))
    )
  }, 60_000)
})
