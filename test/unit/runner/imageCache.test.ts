/**
 * The cache of images: an image is built once per recipe and kept while
 * every file it was built from is unchanged, written whole, built again
 * when its record or its file is damaged, and the images used last are
 * kept within the cache's bounds (two images here: SYSINIT_IMAGES_MAX,
 * read when the module loads). The builds are small functions that write
 * a few bytes; what a real build puts in an image is image.test.ts's.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

import type { Built } from "../../../src/runner/image/ImageCache.ts"

process.env["SYSINIT_IMAGES_MAX"] = "2"
const ImageCache = await import("../../../src/runner/image/ImageCache.ts")

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-images-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

let setups = 0

/** A cache of its own, a file the recipe names and one the build reads, and a build that counts its runs. */
const setup = () => {
  const dir = path.join(work, `case${++setups}`)
  const cache = path.join(dir, "cache")
  const named = path.join(dir, "init.ts")
  const read = path.join(dir, "library.ts")
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(named, "the init")
  fs.writeFileSync(read, "a library it imports")
  let builds = 0
  const build = (contents = "an image") => (output: string) =>
    Effect.sync(() => {
      builds += 1
      fs.writeFileSync(output, contents)
      return { bytes: contents.length, sources: [read], meta: { startup: "bundle" } }
    })
  const lookup = <E = never>(
    parts: unknown = { init: named },
    make: (output: string) => Effect.Effect<Built, E> = build()
  ) =>
    ImageCache.lookupOrBuild({ parts, files: [named] }, make).pipe(
      Effect.provide(Layer.mergeAll(
        NodeServices.layer,
        ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))
      ))
    )
  const images = path.join(cache, "images")
  return { build, builds: () => builds, images, lookup, named, read }
}

/** A build that writes half an image, then fails. */
const failing = (output: string) =>
  Effect.sync(() => fs.writeFileSync(output, "half an image")).pipe(Effect.andThen(Effect.fail("no room")))

describe("the image cache", () => {
  it.effect("builds an image once per recipe and reuses it, with what the build said of it", () =>
    Effect.gen(function*() {
      const { builds, images, lookup } = setup()
      const first = yield* lookup()
      assert.isFalse(first.cached)
      assert.strictEqual(fs.readFileSync(first.path, "utf8"), "an image")
      assert.strictEqual(first.path, path.join(images, `${first.key}.cpio`))
      const again = yield* lookup()
      assert.deepStrictEqual(again, { ...first, cached: true })
      assert.strictEqual(builds(), 1)
      // Written whole: the image and its recipe's record, nothing half-made beside them.
      assert.sameMembers(fs.readdirSync(images).map((name) => path.extname(name)), [".cpio", ".json"])
    }))

  const changes: ReadonlyArray<readonly [string, (files: ReturnType<typeof setup>) => void]> = [
    ["a file the recipe names changes", ({ named }) => fs.writeFileSync(named, "the init, changed")],
    ["a file the build read changes", ({ read }) => fs.writeFileSync(read, "a library it imports, changed")]
  ]
  for (const [name, change] of changes) {
    it.effect(`builds again, under another key, when ${name}`, () =>
      Effect.gen(function*() {
        const files = setup()
        const first = yield* files.lookup()
        change(files)
        const second = yield* files.lookup()
        assert.isFalse(second.cached)
        assert.notStrictEqual(second.key, first.key)
        assert.strictEqual(files.builds(), 2)
      }))
  }

  it.effect("another recipe of the same files is another image", () =>
    Effect.gen(function*() {
      const { builds, lookup, named } = setup()
      const bundle = yield* lookup({ init: named, startup: "bundle" })
      const snapshot = yield* lookup({ init: named, startup: "snapshot" })
      assert.notStrictEqual(bundle.key, snapshot.key)
      assert.strictEqual(builds(), 2)
    }))

  const damages: ReadonlyArray<readonly [string, (images: string, image: string) => void]> = [
    ["its record is unreadable", (images) => {
      for (const name of fs.readdirSync(images).filter((file) => file.endsWith(".json"))) {
        fs.writeFileSync(path.join(images, name), "{")
      }
    }],
    ["its image is gone", (_images, image) => fs.rmSync(image)],
    ["its image is cut short", (_images, image) => fs.truncateSync(image, 3)]
  ]
  for (const [name, damage] of damages) {
    it.effect(`builds the image again when ${name}`, () =>
      Effect.gen(function*() {
        const { builds, images, lookup } = setup()
        const first = yield* lookup()
        damage(images, first.path)
        const again = yield* lookup()
        assert.isFalse(again.cached)
        assert.strictEqual(fs.readFileSync(again.path, "utf8"), "an image")
        assert.strictEqual(builds(), 2)
        assert.isTrue((yield* lookup()).cached, "and keeps it")
      }))
  }

  it.effect("a build that fails leaves nothing in the cache, and fails with the build's error", () =>
    Effect.gen(function*() {
      const { images, lookup } = setup()
      const exit = yield* Effect.exit(lookup(undefined, failing))
      assert.deepStrictEqual(exit, Exit.fail("no room"))
      assert.deepStrictEqual(fs.readdirSync(images), [])
    }))

  it.effect("keeps the images used last within its bounds, and removes what a killed build left an hour ago", () =>
    Effect.gen(function*() {
      const { build, images, lookup, named } = setup()
      fs.mkdirSync(images, { recursive: true })
      const old = new Date(Date.now() - 2 * 60 * 60 * 1000)
      const left = path.join(images, "0123.partial-1-abcdef01")
      const fresh = path.join(images, "4567.partial-1-abcdef02")
      fs.writeFileSync(left, "a killed build's")
      fs.utimesSync(left, old, old)
      fs.writeFileSync(fresh, "a build still going")
      const first = yield* lookup({ init: named, n: 1 }, build("image one"))
      fs.utimesSync(first.path, old, old)
      const second = yield* lookup({ init: named, n: 2 }, build("image two"))
      const third = yield* lookup({ init: named, n: 3 }, build("image three"))
      const kept = fs.readdirSync(images)
      assert.notInclude(kept, path.basename(first.path), "the one used longest ago goes")
      assert.includeMembers(kept, [path.basename(second.path), path.basename(third.path), path.basename(fresh)])
      assert.notInclude(kept, path.basename(left))
      // Its record stays, naming an image that is gone: it is built again.
      assert.isFalse((yield* lookup({ init: named, n: 1 }, build("image one"))).cached)
    }))
})
