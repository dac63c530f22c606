/**
 * Answers the runner works out from host files (which libraries a binary
 * needs, which modules a kernel's share needs) kept in the cache, keyed by
 * what they were worked out from, so that a later run reads one small file
 * instead of asking the file system again. A file's identity (path, size,
 * mtime) stands for its content in those keys.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import { createHash } from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as Cache from "./cache.ts"

/**
 * A host file's path, size and mtime; size -1 when it does not exist.
 *
 * @since 0.1.0
 * @category models
 */
export type Identity = readonly [path: string, size: number, mtimeMs: number]

// Synchronous: a stat costs less than its round trip to libuv's pool, and a key takes many.
const identityOf = (file: string): Identity => {
  const stat = NodeFs.statSync(file, { throwIfNoEntry: false })
  return stat === undefined ? [file, -1, 0] : [file, stat.size, stat.mtimeMs]
}

/**
 * The identity of a host file.
 *
 * @since 0.1.0
 * @category keys
 */
export const identity = (file: string): Effect.Effect<Identity> => Effect.sync(() => identityOf(file))

/**
 * The identities of files, each once, in path order.
 *
 * @since 0.1.0
 * @category keys
 */
export const identities = (files: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Identity>> =>
  Effect.sync(() => [...new Set(files)].toSorted().map(identityOf))

/**
 * A hash of a JSON value, for a key or a file name.
 *
 * @since 0.1.0
 * @category keys
 */
export const hash = (value: unknown): string =>
  createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 32)

interface Entry<A> {
  readonly answer: A
  readonly files: ReadonlyArray<Identity>
}

const sameIdentities = (recorded: ReadonlyArray<Identity>): boolean =>
  recorded.every(([file, size, mtimeMs]) => {
    const [, nowSize, nowMtimeMs] = identityOf(file)
    return nowSize === size && nowMtimeMs === mtimeMs
  })

/**
 * The answer of `compute`, kept in the cache's `folder` under a hash of
 * `key`: read back while the files it came from (`filesOf` the answer, plus
 * `key`'s own) are unchanged, else computed again and kept. An entry that
 * does not parse or was not written is only a lost saving.
 *
 * @since 0.1.0
 * @category remembering
 */
export const remember = <A, E, R>(options: {
  readonly folder: string
  /** Everything the answer depends on besides the files `filesOf` names (paths, identities, settings). */
  readonly key: unknown
  readonly compute: Effect.Effect<A, E, R>
  /** The files the answer was worked out from, whose change makes it stale. */
  readonly filesOf: (answer: A) => ReadonlyArray<string>
}): Effect.Effect<A, E, R | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = `${yield* Cache.folder(options.folder)}/${hash(options.key)}.json`
    const kept = yield* fs.readFileString(file).pipe(
      Effect.flatMap((text) => Effect.try(() => JSON.parse(text) as Partial<Entry<A>>)),
      Effect.orElseSucceed(() => undefined)
    )
    if (kept?.answer !== undefined && Array.isArray(kept.files) && sameIdentities(kept.files)) return kept.answer
    const answer = yield* options.compute
    const entry: Entry<A> = { answer, files: yield* identities(options.filesOf(answer)) }
    yield* Effect.ignore(Cache.writeFile(file, JSON.stringify(entry)))
    yield* trim(file)
    return answer
  })

/** How many answers a folder keeps: those written last (each is a few hundred bytes). */
const keptAnswers = 256

/** Removes the answers of `file`'s folder beyond `keptAnswers`, those written first. */
const trim = (file: string) =>
  Effect.try(() => {
    const folder = NodePath.dirname(file)
    const answers = NodeFs.readdirSync(folder).filter((name) => name.endsWith(".json")).flatMap((name) => {
      const stat = NodeFs.statSync(NodePath.join(folder, name), { throwIfNoEntry: false })
      return stat === undefined ? [] : [{ name, bytes: 0, usedAt: stat.mtimeMs }]
    })
    for (const { name } of Cache.beyondLimits(answers, { entries: keptAnswers, bytes: Infinity })) {
      NodeFs.rmSync(NodePath.join(folder, name), { force: true })
    }
  }).pipe(Effect.ignore)
