/**
 * The cache of saved machines (`machines/` in the cache directory): each
 * entry is one machine stopped at its ready point, under a key of all that
 * makes a saved state differ (QEMU, the machine's command line, the kernel,
 * the image), as two files: `ram`, the guest's RAM (sparse: only the pages
 * the boot wrote take space), and `state`, QEMU's state of the devices.
 *
 * An entry is made in a directory of its own run and renamed into place
 * whole, with `entry.json` written last: a reader sees all of an entry or
 * none, and two runs that save at once both succeed (the first rename
 * wins; the other run uses it). An entry that does not check out (a file
 * missing or of the wrong size, a state that is not the one saved) is
 * removed and the run boots cold. The cache keeps the entries used last,
 * within a count and a size (`limits`); removal renames an entry away
 * first, so that a run restoring from it keeps its files.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { createHash, randomBytes } from "node:crypto"
import * as Cache from "../cache.ts"
import * as Remembered from "../remembered.ts"

/**
 * A saved machine, ready to restore.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly key: string
  readonly ram: string
  readonly state: string
}

/**
 * What `entry.json` records of an entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface EntryRecord {
  readonly key: string
  /** Bytes of `ram`: the guest's memory. */
  readonly ramBytes: number
  /** sha256 of `state`. */
  readonly stateSha256: string
  readonly savedAt: string
  /** How long the save took, from the ready line to the state written. */
  readonly saveMillis: number
}

/**
 * How many entries, and how many bytes of disk, the cache keeps: the
 * entries used last. `SYSINIT_MACHINES_MAX` and `SYSINIT_MACHINES_MAX_MB`
 * change them.
 *
 * @since 0.1.0
 * @category constants
 */
export const limits: Cache.Limits = Cache.limitsOf("MACHINES", { entries: 8, megabytes: 4096 })

/**
 * The key of a machine: a hash of what makes its saved state differ.
 *
 * @since 0.1.0
 * @category keys
 */
export const keyOf = (facts: unknown): string => Remembered.hash(facts)

const recordName = "entry.json"

const directory = Cache.folder("machines")

const sha256Of = Effect.fnUntraced(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  return createHash("sha256").update(yield* fs.readFile(file)).digest("hex")
})

/** Moves a directory out of the way, then removes it: a run restoring from it keeps the files it opened. */
const discard = Effect.fnUntraced(function*(dir: string) {
  const fs = yield* FileSystem.FileSystem
  const trash = `${dir}.trash-${process.pid}-${randomBytes(4).toString("hex")}`
  const moved = yield* fs.rename(dir, trash).pipe(Effect.as(trash), Effect.orElseSucceed(() => dir))
  yield* Effect.ignore(fs.remove(moved, { recursive: true, force: true }))
})

/**
 * The entry of a key when there is one that checks out; a bad one is
 * removed, and `onBad` told why.
 *
 * @since 0.1.0
 * @category reading
 */
export const find = Effect.fn("SavedMachines.find")(function*(
  key: string,
  memoryMiB: number,
  onBad: (reason: string) => Effect.Effect<void>
): Effect.fn.Return<Option.Option<Entry>, never, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = path.join(yield* directory, key)
  const text = yield* fs.readFileString(path.join(dir, recordName)).pipe(Effect.option)
  if (Option.isNone(text)) return Option.none()
  const entry: Entry = { key, ram: path.join(dir, "ram"), state: path.join(dir, "state") }
  const problem = yield* Effect.gen(function*() {
    const record = JSON.parse(text.value) as Partial<EntryRecord>
    if (record.key !== key) return "its record names another key"
    const ram = yield* fs.stat(entry.ram)
    if (Number(ram.size) !== memoryMiB * 2 ** 20 || record.ramBytes !== Number(ram.size)) {
      return `its RAM file has ${ram.size} bytes, not ${memoryMiB} MiB`
    }
    if ((yield* sha256Of(entry.state)) !== record.stateSha256) return "its state is not the one saved"
    return undefined
  }).pipe(Effect.catchCause(() => Effect.succeed("its files cannot be read")))
  if (problem !== undefined) {
    yield* onBad(`the saved machine ${key} is removed: ${problem}`)
    yield* discard(dir)
    return Option.none()
  }
  // Its use, for the least recently used to go first.
  const now = new Date()
  yield* Effect.ignore(fs.utimes(path.join(dir, recordName), now, now))
  return Option.some(entry)
})

/**
 * Removes the entry of a key (one that would not restore), saying why.
 *
 * @since 0.1.0
 * @category writing
 */
export const remove = Effect.fn("SavedMachines.remove")(function*(key: string) {
  const path = yield* Path.Path
  yield* discard(path.join(yield* directory, key))
})

/**
 * A directory of this run's own for a machine to be saved into, removed
 * with the scope unless it was published.
 *
 * @since 0.1.0
 * @category writing
 */
export const prepare = Effect.fn("SavedMachines.prepare")(function*(key: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const parent = yield* directory
  yield* fs.makeDirectory(parent, { recursive: true })
  const dir = path.join(parent, `${key}.partial-${process.pid}-${randomBytes(4).toString("hex")}`)
  yield* Effect.acquireRelease(
    fs.makeDirectory(dir),
    () => Effect.ignore(fs.remove(dir, { recursive: true, force: true }))
  )
  return { key, ram: path.join(dir, "ram"), state: path.join(dir, "state"), directory: dir }
})

/**
 * Puts a saved machine in its place: its record written last, the files
 * synced, the directory renamed to its key. When another run got there
 * first, its entry stays and this one goes. Then the cache is trimmed to
 * `limits`.
 *
 * @since 0.1.0
 * @category writing
 */
export const publish = Effect.fn("SavedMachines.publish")(function*(
  saved: { readonly key: string; readonly directory: string; readonly ram: string; readonly state: string },
  saveMillis: number
): Effect.fn.Return<Entry, PlatformError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const parent = yield* directory
  const ram = yield* fs.stat(saved.ram)
  const record: EntryRecord = {
    key: saved.key,
    ramBytes: Number(ram.size),
    stateSha256: yield* sha256Of(saved.state),
    savedAt: new Date().toISOString(),
    saveMillis
  }
  for (const file of [saved.ram, saved.state]) {
    yield* Effect.scoped(Effect.flatMap(fs.open(file, { flag: "r+" }), (handle) => handle.sync))
  }
  yield* fs.writeFileString(path.join(saved.directory, recordName), `${JSON.stringify(record)}\n`)
  const target = path.join(parent, saved.key)
  yield* fs.rename(saved.directory, target).pipe(Effect.catchCause(() => Effect.void))
  yield* trim
  return { key: saved.key, ram: path.join(target, "ram"), state: path.join(target, "state") }
})

/** What an entry takes on disk, in bytes, and when it was last used. */
const usage = Effect.fnUntraced(function*(dir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const record = yield* fs.stat(path.join(dir, recordName))
  let bytes = 0
  for (const name of ["ram", "state", recordName]) {
    const info = yield* fs.stat(path.join(dir, name)).pipe(Effect.option)
    if (Option.isSome(info)) {
      bytes += Option.match(info.value.blocks, {
        onNone: () => Number(info.value.size),
        onSome: (blocks) => Number(blocks) * 512
      })
    }
  }
  return { dir, bytes, usedAt: Option.getOrElse(record.mtime, () => new Date(0)).getTime() }
})

// A partial directory this old belongs to a run that was killed while saving.
const abandonedAfterMillis = 60 * 60 * 1000

/**
 * Removes the entries beyond `limits`, least recently used first, and what
 * killed runs left.
 *
 * @since 0.1.0
 * @category writing
 */
export const trim: Effect.Effect<void, never, FileSystem.FileSystem | Path.Path> = Effect.suspend(() => trimTo(limits))

/**
 * `trim` within other limits.
 *
 * @since 0.1.0
 * @category writing
 */
export const trimTo = (
  within: Cache.Limits
): Effect.Effect<void, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const parent = yield* directory
    const names = yield* fs.readDirectory(parent).pipe(Effect.orElseSucceed((): Array<string> => []))
    const entries: Array<{ readonly dir: string; readonly bytes: number; readonly usedAt: number }> = []
    for (const name of names) {
      const dir = path.join(parent, name)
      if (name.includes(".partial-") || name.includes(".trash-")) {
        const info = yield* fs.stat(dir).pipe(Effect.option)
        const age = Option.match(Option.flatMap(info, (stat) => stat.mtime), {
          onNone: () => 0,
          onSome: (mtime) => Date.now() - mtime.getTime()
        })
        if (name.includes(".trash-") || age > abandonedAfterMillis) yield* discard(dir)
        continue
      }
      const used = yield* usage(dir).pipe(Effect.option)
      if (Option.isSome(used)) entries.push(used.value)
    }
    for (const entry of Cache.beyondLimits(entries, within)) yield* discard(entry.dir)
  })
