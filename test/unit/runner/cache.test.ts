/**
 * How entries get into the cache when runs start together: one run at a
 * time holds an entry's lock, a killed run's lock and work are taken away,
 * and an entry is put in place whole by one rename. Real files in a cache
 * directory of the test's own; real time (`it.live`), as the lock polls.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, FileSystem, Layer, Option, Schema } from "effect"
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

  it.live("replacing an entry that another run removed meanwhile puts this run's in place", () =>
    withCache((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const final = join(dir, "kernel")
        const outcome = yield* Effect.scoped(Effect.gen(function*() {
          const partial = yield* Cache.partialDirectory(final)
          yield* fs.writeFileString(join(partial, "release"), "fresh\n")
          return yield* Cache.publish(partial, final, { replace: true })
        }))
        assert.strictEqual(outcome, "published")
        assert.strictEqual(yield* fs.readFileString(join(final, "release")), "fresh\n")
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

describe("Cache.root", () => {
  const cases: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    [
      "SYSINIT_CACHE_DIR first",
      { SYSINIT_CACHE_DIR: "/srv/cache", XDG_CACHE_HOME: "/xdg", HOME: "/home/u" },
      "/srv/cache"
    ],
    ["else under XDG_CACHE_HOME", { XDG_CACHE_HOME: "/xdg", HOME: "/home/u" }, "/xdg/effect-sysinit"],
    ["else under HOME's .cache", { HOME: "/home/u" }, "/home/u/.cache/effect-sysinit"],
    ["else under /root's when there is no HOME", {}, "/root/.cache/effect-sysinit"]
  ]
  for (const [name, env, expected] of cases) {
    it.effect(`is ${name}`, () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* Cache.root, expected)
        assert.strictEqual(yield* Cache.folder("kernel"), join(expected, "kernel"))
      }).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))),
        Effect.provide(NodeServices.layer)
      ))
  }
})

describe("Cache.beyondLimits", () => {
  const entry = Schema.Struct({
    bytes: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 })),
    usedAt: Schema.Int
  })
  const limits = Schema.Struct({
    entries: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 8 })),
    bytes: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 400 }))
  })

  it.prop(
    "keeps those used last, within the count and the bytes; the one used last always stays",
    [Schema.Array(entry), limits],
    ([entries, within]) => {
      const removed = new Set(Cache.beyondLimits(entries, within))
      const kept = entries.filter((e) => !removed.has(e))
      assert.isAtMost(kept.length, within.entries)
      if (kept.length > 1) assert.isAtMost(kept.reduce((sum, e) => sum + e.bytes, 0), within.bytes)
      if (entries.length > 0) assert.isAtLeast(kept.length, 1)
      // Nothing kept was used before something removed.
      for (const gone of removed) for (const stays of kept) assert.isAtLeast(stays.usedAt, gone.usedAt)
    }
  )

  it("removes the oldest first", () => {
    const entries = [1, 5, 3, 4, 2].map((usedAt) => ({ usedAt, bytes: 10 }))
    assert.deepStrictEqual(Cache.beyondLimits(entries, { entries: 3, bytes: 1000 }).map((e) => e.usedAt), [2, 1])
    assert.deepStrictEqual(Cache.beyondLimits(entries, { entries: 9, bytes: 25 }).map((e) => e.usedAt), [3, 2, 1])
    assert.deepStrictEqual(Cache.beyondLimits(entries, { entries: 9, bytes: 1 }).map((e) => e.usedAt), [4, 3, 2, 1])
  })
})

describe("Cache.limitsOf", () => {
  const withEnv = (env: Record<string, string | undefined>, body: () => void) => {
    const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]))
    Object.assign(process.env, env)
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete process.env[key]
    try {
      body()
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
    }
  }

  it("reads SYSINIT_<KIND>_MAX and _MAX_MB, and keeps the defaults for values that are not whole numbers above 0", () => {
    const defaults = { entries: 6, megabytes: 100 }
    withEnv(
      { SYSINIT_THINGS_MAX: "3", SYSINIT_THINGS_MAX_MB: "7" },
      () => assert.deepStrictEqual(Cache.limitsOf("THINGS", defaults), { entries: 3, bytes: 7 * 2 ** 20 })
    )
    for (const bad of ["abc", "0", "-2", "1.5", ""]) {
      withEnv(
        { SYSINIT_THINGS_MAX: bad, SYSINIT_THINGS_MAX_MB: bad },
        () => assert.deepStrictEqual(Cache.limitsOf("THINGS", defaults), { entries: 6, bytes: 100 * 2 ** 20 })
      )
    }
    withEnv(
      { SYSINIT_THINGS_MAX: undefined, SYSINIT_THINGS_MAX_MB: undefined },
      () => assert.deepStrictEqual(Cache.limitsOf("THINGS", defaults), { entries: 6, bytes: 100 * 2 ** 20 })
    )
  })
})

describe("Cache.seal", () => {
  it.prop("gives back what it sealed, and nothing for a sealed entry with any byte changed or cut", [
    Schema.Uint8Array,
    Schema.Int
  ], ([bytes, at]) => {
    const sealed = Cache.seal(bytes)
    assert.deepStrictEqual(Option.map(Cache.unseal(sealed), (b) => Buffer.from(b)), Option.some(Buffer.from(bytes)))
    const damaged = Buffer.from(sealed)
    const index = Math.abs(at) % damaged.length
    damaged[index] = damaged[index]! ^ 0xff
    assert.isTrue(Option.isNone(Cache.unseal(damaged)))
    assert.isTrue(Option.isNone(Cache.unseal(sealed.subarray(0, sealed.length - 1))))
  })
})
