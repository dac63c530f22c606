/**
 * The cache of images (`images/` in the cache directory): an initramfs is
 * built once per recipe and kept, so that a run whose image is the same
 * as an earlier one's costs a few `stat`s instead of bundling, snapshotting
 * and writing 140 MB.
 *
 * A recipe is what the runner asks for (the init's entry, node, the files
 * and modules it adds, how node starts), with the identity (path, size,
 * mtime) of each host file it names. A build reports every host file it
 * read (the bundle's sources, node's libraries, …); the recipe's record
 * keeps their identities, and the image is reused while none changed. The
 * image's key, which the saved machines are keyed by in turn, is a hash of
 * the recipe and those identities.
 *
 * Images are written under a name of their own run and renamed into place
 * whole; the record is written last, the same way. A record whose image is
 * missing or of another size is rebuilt. The cache keeps the images used
 * last, within a count and a size (`limits`).
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { randomBytes } from "node:crypto"
import * as Cache from "../cache.ts"
import { hash, identities, type Identity } from "../remembered.ts"

/**
 * An image ready to boot.
 *
 * @since 0.1.0
 * @category models
 */
export interface Image {
  readonly path: string
  /** A hash of the recipe and of every file the image was built from. */
  readonly key: string
  readonly bytes: number
  /** Whether it came from the cache. */
  readonly cached: boolean
  /** What the build said of it (kept with it). */
  readonly meta: unknown
}

/**
 * What a build gives back: the image's size and every host file it read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Built {
  readonly bytes: number
  readonly sources: ReadonlyArray<string>
  /** What the build says of the image, kept with it (JSON). */
  readonly meta?: unknown
}

/**
 * How many images, and how many bytes, the cache keeps: those used last.
 * `SYSINIT_IMAGES_MAX` and `SYSINIT_IMAGES_MAX_MB` change them.
 *
 * @since 0.1.0
 * @category constants
 */
export const limits: Cache.Limits = Cache.limitsOf("IMAGES", { entries: 6, megabytes: 2048 })

interface RecipeRecord {
  readonly image: string
  readonly bytes: number
  readonly meta?: unknown
  /** The identities of the files the image was built from. */
  readonly sources: ReadonlyArray<Identity>
}

const directory = Cache.folder("images")

/**
 * The image of a recipe: from the cache when its record's files are all
 * unchanged, else built (`build` writes it to the path it is given) and
 * kept.
 *
 * @since 0.1.0
 * @category images
 */
export const lookupOrBuild = <E, R>(
  recipe: { readonly parts: unknown; readonly files: ReadonlyArray<string> },
  build: (output: string) => Effect.Effect<Built, E, R>
): Effect.Effect<Image, E | PlatformError, R | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const folder = yield* directory
    const recipeKey = hash({ parts: recipe.parts, files: yield* identities(recipe.files) })
    const recordFile = path.join(folder, `${recipeKey}.json`)
    const record = yield* fs.readFileString(recordFile).pipe(
      Effect.flatMap((text) => Effect.try(() => JSON.parse(text) as RecipeRecord)),
      Effect.option
    )
    if (Option.isSome(record)) {
      const { bytes, image: name, meta, sources } = record.value
      const now = yield* identities(sources.map(([file]) => file))
      const file = path.join(folder, name)
      const size = yield* fs.stat(file).pipe(Effect.map((info) => Number(info.size)), Effect.orElseSucceed(() => -1))
      if (size === bytes && JSON.stringify(now) === JSON.stringify(sources)) {
        const at = new Date()
        yield* Effect.ignore(fs.utimes(file, at, at))
        return { path: file, key: name.replace(/\.cpio$/, ""), bytes, cached: true, meta } satisfies Image
      }
    }
    yield* fs.makeDirectory(folder, { recursive: true })
    const partial = path.join(folder, `${recipeKey}.partial-${process.pid}-${randomBytes(4).toString("hex")}`)
    const built = yield* build(partial).pipe(Effect.onError(() => Effect.ignore(fs.remove(partial, { force: true }))))
    const sources = yield* identities(built.sources)
    const key = hash({ recipeKey, sources })
    const file = path.join(folder, `${key}.cpio`)
    yield* fs.rename(partial, file)
    const written: RecipeRecord = { image: `${key}.cpio`, bytes: built.bytes, meta: built.meta, sources }
    yield* Cache.writeFile(recordFile, `${JSON.stringify(written)}\n`)
    yield* trim.pipe(Effect.ignore)
    return { path: file, key, bytes: built.bytes, cached: false, meta: built.meta } satisfies Image
  })

/** Removes the images beyond `limits`, least recently used first, with the records that name them. */
const trim = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const folder = yield* directory
  const names = yield* fs.readDirectory(folder)
  const images: Array<{ readonly name: string; readonly bytes: number; readonly usedAt: number }> = []
  for (const name of names) {
    const info = yield* fs.stat(path.join(folder, name)).pipe(Effect.option)
    if (Option.isNone(info)) continue
    const usedAt = Option.getOrElse(info.value.mtime, () => new Date(0)).getTime()
    if (name.includes(".partial-")) {
      // A build of a run that was killed.
      if (Date.now() - usedAt > 60 * 60 * 1000) yield* Effect.ignore(fs.remove(path.join(folder, name)))
    } else if (name.endsWith(".cpio")) images.push({ name, bytes: Number(info.value.size), usedAt })
  }
  for (const image of Cache.beyondLimits(images, limits)) {
    yield* Effect.ignore(fs.remove(path.join(folder, image.name)))
  }
})
