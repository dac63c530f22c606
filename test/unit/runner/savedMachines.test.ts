/**
 * The cache of saved machines without QEMU: entries made of files of the
 * right sizes, published, found, checked, trimmed. The VM tier restores
 * real ones (test/vm/restore.test.ts).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import * as SavedMachines from "../../../src/runner/restore/SavedMachines.ts"

const memoryMiB = 1

/** A cache directory of the test's own. */
const inCache = <A, E, R>(effect: (cache: string) => Effect.Effect<A, E, R>) => {
  const cache = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-machines-"))
  return effect(cache).pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))),
    Effect.provide(NodeServices.layer),
    Effect.ensuring(Effect.sync(() => fs.rmSync(cache, { recursive: true, force: true })))
  ) as Effect.Effect<A, E>
}

/** What a save leaves in the prepared directory: the RAM file of the guest's size, and a state. */
const save = (key: string, state = "devices") =>
  Effect.scoped(Effect.gen(function*() {
    const target = yield* SavedMachines.prepare(key)
    fs.writeFileSync(target.state, state)
    fs.writeFileSync(target.ram, "")
    fs.truncateSync(target.ram, memoryMiB * 2 ** 20)
    return yield* SavedMachines.publish(target, 12)
  }))

/** Sets when an entry was used last. */
const usedSecondsAgo = (cache: string, key: string, seconds: number) => {
  const at = new Date(Date.now() - seconds * 1000)
  fs.utimesSync(join(cache, "machines", key, "entry.json"), at, at)
}

const notes = () => {
  const said: Array<string> = []
  return { said, note: (line: string) => Effect.sync(() => void said.push(line)) }
}

describe("the cache of saved machines", () => {
  it.effect("a published machine is found whole: its RAM and state in the key's directory", () =>
    inCache((cache) =>
      Effect.gen(function*() {
        const entry = yield* save("k1")
        assert.strictEqual(entry.ram, join(cache, "machines", "k1", "ram"))
        const { note, said } = notes()
        const found = yield* SavedMachines.find("k1", memoryMiB, note)
        assert.deepStrictEqual(Option.getOrThrow(found), entry)
        assert.deepStrictEqual(said, [])
        assert.deepStrictEqual(fs.readdirSync(join(cache, "machines")), ["k1"], "nothing else is left")
      })
    ))

  it.effect("no entry for an unknown key", () =>
    inCache(() =>
      Effect.map(
        SavedMachines.find("unknown", memoryMiB, () => Effect.void),
        (found) => assert.isTrue(Option.isNone(found))
      )
    ))

  const damages: ReadonlyArray<readonly [string, (dir: string) => void, string]> = [
    [
      "a state that is not the one saved",
      (dir) => fs.writeFileSync(join(dir, "state"), "other"),
      "its state is not the one saved"
    ],
    ["a truncated RAM file", (dir) => fs.truncateSync(join(dir, "ram"), 4096), "its RAM file has 4096 bytes"],
    ["a missing state", (dir) => fs.rmSync(join(dir, "state")), "its files cannot be read"],
    ["a record that is not JSON", (dir) => fs.writeFileSync(join(dir, "entry.json"), "{"), "its files cannot be read"]
  ]
  for (const [name, damage, reason] of damages) {
    it.effect(`an entry with ${name} is removed, the reason noted, and no entry found`, () =>
      inCache((cache) =>
        Effect.gen(function*() {
          yield* save("k2")
          damage(join(cache, "machines", "k2"))
          const { note, said } = notes()
          const found = yield* SavedMachines.find("k2", memoryMiB, note)
          assert.isTrue(Option.isNone(found))
          assert.strictEqual(said.length, 1)
          assert.include(said[0], reason)
          assert.deepStrictEqual(fs.readdirSync(join(cache, "machines")), [])
        })
      ))
  }

  it.effect("a machine of another size is not this one: removed", () =>
    inCache(() =>
      Effect.gen(function*() {
        yield* save("k3")
        const { note, said } = notes()
        assert.isTrue(Option.isNone(yield* SavedMachines.find("k3", 2 * memoryMiB, note)))
        assert.include(said[0], "not 2 MiB")
      })
    ))

  it.effect("two runs that save one key at once: the first rename wins, both get the entry, nothing else is left", () =>
    inCache((cache) =>
      Effect.gen(function*() {
        const [first, second] = yield* Effect.all([save("k4", "first"), save("k4", "second")], {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(first, second)
        const found = Option.getOrThrow(yield* SavedMachines.find("k4", memoryMiB, () => Effect.void))
        assert.include(["first", "second"], fs.readFileSync(found.state, "utf8"))
        assert.deepStrictEqual(fs.readdirSync(join(cache, "machines")), ["k4"])
      })
    ))

  it.effect("trimming keeps the entries used last, within the count", () =>
    inCache((cache) =>
      Effect.gen(function*() {
        for (const [age, key] of ["a", "b", "c"].entries()) {
          yield* save(key)
          usedSecondsAgo(cache, key, 100 - age)
        }
        // Using "a" makes it the one used last.
        yield* SavedMachines.find("a", memoryMiB, () => Effect.void)
        yield* SavedMachines.trimTo({ entries: 2, bytes: 2 ** 40 })
        assert.deepStrictEqual(fs.readdirSync(join(cache, "machines")).toSorted(), ["a", "c"])
      })
    ))

  it.effect("trimming keeps at most the size given, the entry used last always", () =>
    inCache((cache) =>
      Effect.gen(function*() {
        for (const [age, key] of ["a", "b"].entries()) {
          yield* save(key)
          usedSecondsAgo(cache, key, 100 - age)
        }
        yield* SavedMachines.trimTo({ entries: 10, bytes: 1 })
        assert.deepStrictEqual(fs.readdirSync(join(cache, "machines")), ["b"])
      })
    ))

  it.effect("a directory a killed run left while saving is removed once old, a recent one kept", () =>
    inCache((cache) =>
      Effect.gen(function*() {
        const machines = join(cache, "machines")
        fs.mkdirSync(join(machines, "k5.partial-1-old"), { recursive: true })
        fs.mkdirSync(join(machines, "k5.partial-2-new"), { recursive: true })
        const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000)
        fs.utimesSync(join(machines, "k5.partial-1-old"), hourAgo, hourAgo)
        yield* SavedMachines.trim
        assert.deepStrictEqual(fs.readdirSync(machines), ["k5.partial-2-new"])
      })
    ))
})
