/**
 * How entries get into the cache when runs start together: one run at a
 * time holds an entry's lock, a killed run's lock and work are taken away,
 * and an entry is put in place whole by one rename. Real files in a cache
 * directory of the test's own; real time (`it.live`), as the lock polls.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, FileSystem, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as os from "node:os"
import { join } from "node:path"
import * as Cache from "../../../src/runner/cache.ts"

/** A cache directory of the test's own, as `SYSINIT_CACHE_DIR`. */
const withCache = <A, E, R>(body: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped()
    return yield* body(dir).pipe(
      Effect.provide(
        Layer.succeed(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: dir }))
      )
    )
  }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

/** The pid of a process that has ended. */
const endedPid = (): number => spawnSync("true").pid!

describe("Cache.withLock", () => {
  it.live("lets one run at a time in: three at once run one after another", () =>
    withCache(() =>
      Effect.gen(function*() {
        let inside = 0
        let most = 0
        const work = Effect.gen(function*() {
          inside += 1
          most = Math.max(most, inside)
          yield* Effect.sleep(Duration.millis(30))
          inside -= 1
        })
        yield* Effect.all([1, 2, 3].map(() => Cache.withLock("kernel-6.12", work, { poll: Duration.millis(5) })), {
          concurrency: "unbounded"
        })
        assert.strictEqual(most, 1)
      })
    ))

  it.live("breaks the lock of a run that ended without telling it waits", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory(join(dir, "locks"))
        yield* fs.writeFileString(join(dir, "locks/kernel.lock"), `${endedPid()} ${os.hostname()} 0123\n`)
        const waited: Array<number> = []
        const result = yield* Cache.withLock("kernel", Effect.succeed("ran"), {
          onWait: (holder) => Effect.sync(() => void waited.push(holder.pid))
        })
        assert.strictEqual(result, "ran")
        assert.deepStrictEqual(waited, [])
        assert.deepStrictEqual(yield* fs.readDirectory(join(dir, "locks")), [], "nothing is left in locks/")
      })
    ))

  it.live("waits while the run that holds the lock is alive, naming it, and goes in when it ends", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const holder = spawn("sleep", ["60"])
        yield* Effect.addFinalizer(() => Effect.sync(() => holder.kill()))
        yield* fs.makeDirectory(join(dir, "locks"))
        yield* fs.writeFileString(join(dir, "locks/kernel.lock"), `${holder.pid} ${os.hostname()} 0123\n`)
        const waited: Array<number> = []
        const result = yield* Cache.withLock("kernel", Effect.succeed("ran"), {
          onWait: (who) =>
            Effect.sync(() => {
              waited.push(who.pid)
              holder.kill()
            }),
          poll: Duration.millis(10)
        })
        assert.strictEqual(result, "ran")
        assert.deepStrictEqual(waited, [holder.pid])
      })
    ))

  it.live("gives up waiting past its patience and runs anyway: the lock only spares work", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory(join(dir, "locks"))
        // A run of another host: whether it still runs cannot be told from here.
        yield* fs.writeFileString(join(dir, "locks/kernel.lock"), `1 another-host 0123\n`)
        const result = yield* Cache.withLock("kernel", Effect.succeed("ran"), {
          patience: Duration.millis(50),
          poll: Duration.millis(10)
        })
        assert.strictEqual(result, "ran")
        assert.include(yield* fs.readFileString(join(dir, "locks/kernel.lock")), "another-host", "its lock stays")
      })
    ))

  it.live("gives the lock back when the work fails", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const exit = yield* Effect.exit(Cache.withLock("kernel", Effect.fail("no")))
        assert.isTrue(Exit.isFailure(exit))
        assert.deepStrictEqual(yield* fs.readDirectory(join(dir, "locks")), [])
      })
    ))
})

describe("Cache entries", () => {
  it.live("a partial directory is removed when the work fails, and kept by publish when it succeeds", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const final = join(dir, "kernel-6.12")
        let seen = ""
        const failed = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
          seen = yield* Cache.partialDirectory(final)
          return yield* Effect.fail("download failed")
        })))
        assert.isTrue(Exit.isFailure(failed))
        assert.isFalse(yield* fs.exists(seen))
        const outcome = yield* Effect.scoped(Effect.gen(function*() {
          const partial = yield* Cache.partialDirectory(final)
          yield* fs.writeFileString(join(partial, "release"), "6.12.118+deb12-amd64\n")
          return yield* Cache.publish(partial, final, { replace: false })
        }))
        assert.strictEqual(outcome, "published")
        assert.strictEqual(yield* fs.readFileString(join(final, "release")), "6.12.118+deb12-amd64\n")
        assert.deepStrictEqual(yield* fs.readDirectory(dir), ["kernel-6.12"])
      })
    ))

  it.live("the first rename wins: a sound entry in place stays, the later copy is dropped", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const final = join(dir, "kernel")
        yield* fs.makeDirectory(final)
        yield* fs.writeFileString(join(final, "release"), "first\n")
        const outcome = yield* Effect.scoped(Effect.gen(function*() {
          const partial = yield* Cache.partialDirectory(final)
          yield* fs.writeFileString(join(partial, "release"), "second\n")
          return yield* Cache.publish(partial, final, { replace: false })
        }))
        assert.strictEqual(outcome, "lost")
        assert.strictEqual(yield* fs.readFileString(join(final, "release")), "first\n")
        assert.deepStrictEqual(yield* fs.readDirectory(dir), ["kernel"])
      })
    ))

  it.live("replaces an entry found unsound, and removes it", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const final = join(dir, "kernel")
        yield* fs.makeDirectory(join(final, "modules"), { recursive: true })
        const outcome = yield* Effect.scoped(Effect.gen(function*() {
          const partial = yield* Cache.partialDirectory(final)
          yield* fs.writeFileString(join(partial, "release"), "fresh\n")
          return yield* Cache.publish(partial, final, { replace: true })
        }))
        assert.strictEqual(outcome, "published")
        assert.deepStrictEqual(yield* fs.readDirectory(final), ["release"])
        assert.deepStrictEqual(yield* fs.readDirectory(dir), ["kernel"])
      })
    ))

  it.live("removes the work of runs that ended, not of runs still going nor other entries'", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dead = endedPid()
        const names = [
          `.kernel.partial-${dead}-0a0b0c0d`,
          `.kernel.replaced-${dead}-0a0b0c0e`,
          `.kernel.partial-${process.pid}-0a0b0c0f`,
          `.kernel-6.12.partial-${dead}-0a0b0c10`,
          "kernel"
        ]
        for (const name of names) yield* fs.makeDirectory(join(dir, name, "modules"), { recursive: true })
        assert.strictEqual(yield* Cache.removeLeftovers(join(dir, "kernel")), 2)
        assert.sameMembers(yield* fs.readDirectory(dir), names.slice(2))
      })
    ))
})
