/**
 * The runner's cache directory: `$SYSINIT_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/effect-sysinit`, else `~/.cache/effect-sysinit`; and
 * how an entry is written into it: whole or not at all, by one run at
 * a time when several start together.
 *
 * An entry is made under a name of its run (`privateName`) and renamed into
 * place (`writeFile`, `publish`), so a reader sees all of it or none. Runs
 * that would make the same entry take its lock (`withLock`): one makes it,
 * the others wait and use it. The lock only spares work: two runs that make
 * an entry at once (one gave up waiting) are still safe, the first rename
 * wins. Work left by a run that was killed is removed by the next one
 * (`removeLeftovers`), never work of a run still going.
 *
 * @since 0.1.0
 */
import { Config, Data, Duration, Effect, FileSystem, Option, Path, type Scope } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { createHash, randomBytes } from "node:crypto"
import * as os from "node:os"
import * as NodePath from "node:path"

const variable = (name: string) =>
  Config.option(Config.String(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/**
 * The cache directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const root: Effect.Effect<string, never, Path.Path> = Effect.gen(function*() {
  const path = yield* Path.Path
  const explicit = yield* variable("SYSINIT_CACHE_DIR")
  if (Option.isSome(explicit)) return explicit.value
  const xdg = yield* variable("XDG_CACHE_HOME")
  const home = yield* variable("HOME")
  const base = Option.getOrElse(xdg, () => path.join(Option.getOrElse(home, () => "/root"), ".cache"))
  return path.join(base, "effect-sysinit")
})

/**
 * A folder of the cache directory (`kernel`, `snapshots`, `kvm`, …).
 *
 * @since 0.1.0
 * @category constants
 */
export const folder = (name: string): Effect.Effect<string, never, Path.Path> =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    return path.join(yield* root, name)
  })

/**
 * Writes a file of the cache whole: into a name of this run first
 * (`privateName`), then renamed into place, so that a reader (another run) sees all of it
 * or none.
 *
 * @since 0.1.0
 * @category writing
 */
export const writeFile = Effect.fn("Cache.writeFile")(function*(
  file: string,
  contents: Uint8Array | string
): Effect.fn.Return<void, PlatformError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  yield* fs.makeDirectory(path.dirname(file), { recursive: true })
  const partial = privateName(file, "partial")
  yield* (typeof contents === "string" ? fs.writeFileString(partial, contents) : fs.writeFile(partial, contents))
  yield* fs.rename(partial, file).pipe(Effect.onError(() => Effect.ignore(fs.remove(partial))))
})

/**
 * How many entries of a kind, and how many bytes, the cache keeps.
 *
 * @since 0.1.0
 * @category bounds
 */
export interface Limits {
  readonly entries: number
  readonly bytes: number
}

const positive = (text: string | undefined): number | undefined => {
  const value = Number(text)
  return text !== undefined && Number.isInteger(value) && value > 0 ? value : undefined
}

/**
 * The limits of a kind of entry: `SYSINIT_<KIND>_MAX` entries and
 * `SYSINIT_<KIND>_MAX_MB` MiB when set to whole numbers above 0, else the
 * defaults.
 *
 * @since 0.1.0
 * @category bounds
 */
export const limitsOf = (kind: string, defaults: { readonly entries: number; readonly megabytes: number }): Limits => ({
  entries: positive(process.env[`SYSINIT_${kind}_MAX`]) ?? defaults.entries,
  bytes: (positive(process.env[`SYSINIT_${kind}_MAX_MB`]) ?? defaults.megabytes) * 2 ** 20
})

/**
 * The entries to remove to stay within `limits`: all but those used last,
 * as many as fit in the count and the bytes (the one used last always
 * stays, whatever its size).
 *
 * @since 0.1.0
 * @category bounds
 */
export const beyondLimits = <A extends { readonly bytes: number; readonly usedAt: number }>(
  entries: ReadonlyArray<A>,
  limits: Limits
): ReadonlyArray<A> => {
  let bytes = 0
  return entries.toSorted((a, b) => b.usedAt - a.usedAt).filter((entry, index) => {
    bytes += entry.bytes
    return index >= limits.entries || (index > 0 && bytes > limits.bytes)
  })
}

const digestBytes = 32
const sha256 = (bytes: Uint8Array): Buffer => createHash("sha256").update(bytes).digest()

/**
 * Bytes with their SHA-256 in front, for an entry whose damage (a disk
 * fault, a hand-edited file) would fail a run rather than a check:
 * `unseal` gives them back only when they are intact.
 *
 * @since 0.1.0
 * @category integrity
 */
export const seal = (bytes: Uint8Array): Buffer => Buffer.concat([sha256(bytes), bytes])

/**
 * The bytes `seal` sealed, when their SHA-256 still matches.
 *
 * @since 0.1.0
 * @category integrity
 */
export const unseal = (sealed: Uint8Array): Option.Option<Uint8Array> => {
  if (sealed.length < digestBytes) return Option.none()
  const bytes = sealed.subarray(digestBytes)
  return sha256(bytes).equals(sealed.subarray(0, digestBytes)) ? Option.some(bytes) : Option.none()
}

/** The errno code of a failed file operation (`ENOTEMPTY`, …), which `SystemError`'s tag does not always keep. */
const errnoOf = (error: PlatformError): string | undefined => {
  const cause = error.reason.cause as { readonly code?: unknown } | undefined
  return typeof cause?.code === "string" ? cause.code : undefined
}

/**
 * Whether the process `pid` of this host still runs (a zombie counts):
 * false only when the kernel says there is no such process.
 *
 * @since 0.1.0
 * @category locking
 */
export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH"
  }
}

const thisHost = os.hostname()

/** What a lock file and a private name say of their run: host and pid. */
const ownerText = (): string => `${process.pid} ${thisHost}`

/** Whether the run of a lock file's or private name's `pid` (on `host`) has ended; unknown hosts' runs have not. */
const hasEnded = (pid: number, host: string): boolean => host === thisHost && Number.isInteger(pid) && !isRunning(pid)

/**
 * A name of this run beside `final` for work in progress
 * (`.<name>.<kind>-<pid>-<random>`): hidden, never another run's, and
 * telling `removeLeftovers` whose it is.
 *
 * @since 0.1.0
 * @category writing
 */
export const privateName = (final: string, kind: "partial" | "replaced"): string =>
  NodePath.join(
    NodePath.dirname(final),
    `.${NodePath.basename(final)}.${kind}-${process.pid}-${randomBytes(4).toString("hex")}`
  )

const privatePattern = /^\.(.+)\.(?:partial|replaced)-(\d+)-[0-9a-f]+$/

/**
 * Removes what runs that ended left beside `final`: their partial
 * directories and files (a fetch killed midway) and entries they had
 * replaced. Work of a run still going is left alone.
 *
 * @since 0.1.0
 * @category writing
 */
export const removeLeftovers = Effect.fn("Cache.removeLeftovers")(function*(final: string) {
  const fs = yield* FileSystem.FileSystem
  const names = yield* fs.readDirectory(NodePath.dirname(final)).pipe(Effect.orElseSucceed(() => []))
  const left = names.filter((name) => {
    const match = privatePattern.exec(name)
    return match !== null && match[1] === NodePath.basename(final) && hasEnded(Number(match[2]), thisHost)
  })
  yield* Effect.forEach(
    left,
    (name) => Effect.ignore(fs.remove(NodePath.join(NodePath.dirname(final), name), { recursive: true, force: true })),
    { discard: true }
  )
  return left.length
})

/**
 * A directory of this run beside `final` (`privateName`) in which an entry
 * is made before `publish` puts it in place; removed with the scope unless
 * published, so a failed or interrupted fetch leaves nothing (a killed one
 * leaves it to `removeLeftovers`).
 *
 * @since 0.1.0
 * @category writing
 */
export const partialDirectory = (
  final: string
): Effect.Effect<string, PlatformError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(NodePath.dirname(final), { recursive: true })
    return yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const partial = privateName(final, "partial")
        return Effect.as(fs.makeDirectory(partial), partial)
      }),
      (partial) => Effect.ignore(fs.remove(partial, { recursive: true, force: true }))
    )
  })

/**
 * Puts a directory made by this run (`partialDirectory`) in place as
 * `final`, whole, by one rename. An entry already there is another run's
 * when it is sound (`replace: false`): it stays, and this run's copy is
 * dropped ("lost"). When the caller found it unsound (`replace: true`), it
 * is renamed away first and removed after. Says which directory is now in
 * place: this run's ("published") or another's ("lost").
 *
 * @since 0.1.0
 * @category writing
 */
export const publish = Effect.fn("Cache.publish")(function*(
  partial: string,
  final: string,
  options: { readonly replace: boolean }
): Effect.fn.Return<"published" | "lost", PlatformError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  let replaced: string | undefined
  if (options.replace) {
    replaced = privateName(final, "replaced")
    yield* fs.rename(final, replaced).pipe(
      Effect.catchIf((error) => errnoOf(error) === "ENOENT", () => Effect.sync(() => (replaced = undefined)))
    )
  }
  const outcome = yield* fs.rename(partial, final).pipe(
    Effect.as("published" as const),
    Effect.catchIf(
      (error) => ["ENOTEMPTY", "EEXIST", "ENOTDIR", "EISDIR"].includes(errnoOf(error) ?? ""),
      () => Effect.as(Effect.ignore(fs.remove(partial, { recursive: true, force: true })), "lost" as const)
    )
  )
  if (replaced !== undefined) yield* Effect.ignore(fs.remove(replaced, { recursive: true, force: true }))
  return outcome
})

/**
 * The lock of a cache entry could not be taken or given back.
 *
 * @since 0.1.0
 * @category errors
 */
export class LockError extends Data.TaggedError("LockError")<{ readonly file: string; readonly reason: string }> {
  override get message(): string {
    return `cache lock ${this.file}: ${this.reason}`
  }
}

/**
 * How long a run waits for another run's lock before it does the work
 * itself: the lock only spares work (see the module's description).
 *
 * @since 0.1.0
 * @category locking
 */
export const lockPatience: Duration.Duration = Duration.minutes(10)

/**
 * Runs `use` holding the lock of `name` (`locks/<name>.lock` in the cache),
 * which one run at a time holds: a file made whole by a hard link, naming
 * its run. A lock whose run has ended (killed) is broken; `onWait` is told
 * once which run holds it when this one has to wait. Past `patience` the
 * run goes on without it.
 *
 * @since 0.1.0
 * @category locking
 */
export const withLock = <A, E, R>(
  name: string,
  use: Effect.Effect<A, E, R>,
  options: {
    readonly onWait?: ((holder: { readonly pid: number; readonly host: string }) => Effect.Effect<void>) | undefined
    readonly patience?: Duration.Duration | undefined
    readonly poll?: Duration.Duration | undefined
  } = {}
): Effect.Effect<A, E | LockError, R | FileSystem.FileSystem | Path.Path> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const locks = yield* folder("locks")
    const file = NodePath.join(locks, `${name}.lock`)
    const fail = (error: PlatformError) => new LockError({ file, reason: error.message })
    yield* fs.makeDirectory(locks, { recursive: true }).pipe(Effect.mapError(fail))
    const token = `${ownerText()} ${randomBytes(8).toString("hex")}\n`
    const mine = privateName(file, "partial")
    yield* fs.writeFileString(mine, token).pipe(Effect.mapError(fail))
    const patience = Duration.toMillis(options.patience ?? lockPatience)
    const start = Date.now()
    let told = false
    let held = false
    while (!held) {
      const linked = yield* fs.link(mine, file).pipe(
        Effect.as(true),
        Effect.catchIf((error) => error.reason._tag === "AlreadyExists", () => Effect.succeed(false)),
        Effect.mapError(fail)
      )
      if (linked) {
        held = true
        break
      }
      const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => ""))
      const [pid, host] = text.split(" ")
      if (text !== "" && hasEnded(Number(pid), host ?? "")) {
        // A killed run's lock: taken away under a name of this run, so that only one run breaks it.
        const broken = privateName(file, "replaced")
        const moved = yield* fs.rename(file, broken).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
        if (moved) {
          const still = yield* fs.readFileString(broken).pipe(Effect.orElseSucceed(() => ""))
          // Another run took the lock in between: give it back.
          if (still !== text) yield* Effect.ignore(fs.link(broken, file))
          yield* Effect.ignore(fs.remove(broken))
        }
        continue
      }
      if (Date.now() - start > patience) break
      if (!told && text !== "" && options.onWait !== undefined) {
        told = true
        yield* options.onWait({ pid: Number(pid), host: host ?? "" })
      }
      yield* Effect.sleep(options.poll ?? Duration.millis(100))
    }
    yield* Effect.ignore(fs.remove(mine))
    if (held) {
      yield* Effect.addFinalizer(() =>
        Effect.ignore(Effect.gen(function*() {
          // Removed only while it is still this run's.
          const text = yield* fs.readFileString(file)
          if (text === token) yield* fs.remove(file)
        }))
      )
    }
    return yield* use
  }))
