/**
 * Reading a console file as QEMU appends to it: every few milliseconds
 * while it grows, and, once it has been quiet for a while, asleep until it
 * is written to (an inotify watch). A regular file takes all that QEMU
 * writes, so nothing is lost.
 *
 * @since 0.1.0
 */
import { Deferred, Duration, Effect, type FileSystem, Latch, Option, Stream } from "effect"
import type { PlatformError } from "effect/PlatformError"
import * as fs from "node:fs"

const followedChunkSize = 64 * 1024
// While QEMU writes: the time between two reads of a followed file that found its end.
const followInterval = Duration.millis(10)
// After this many reads in a row found nothing, the follower sleeps until the file is written to.
const followIdleReads = 5
// How long a missed wake-up can delay a read.
const followFallback = Duration.millis(250)

/**
 * Waits until the file at `path` grows past `offset`: an inotify watch on it
 * for the time of the wait, or a poll interval where it cannot watch.
 */
const untilWritten = (
  file: FileSystem.File,
  path: string,
  offset: number,
  ended: Deferred.Deferred<void>
): Effect.Effect<void, PlatformError> =>
  Effect.scoped(Effect.gen(function*() {
    const written = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const latch = Latch.makeUnsafe(false)
        try {
          const watcher = fs.watch(path, { persistent: false }, () => Latch.openUnsafe(latch))
          watcher.on("error", () => Latch.openUnsafe(latch))
          return { latch, watcher }
        } catch {
          return undefined
        }
      }),
      (watch) => Effect.sync(() => watch?.watcher.close())
    )
    if (written === undefined) return yield* Effect.sleep(followInterval)
    // Written between the last read and the watch: no event will come for it.
    if (Number((yield* file.stat).size) > offset) return
    yield* Effect.timeoutOption(Effect.raceFirst(written.latch.await, Deferred.await(ended)), followFallback)
  }))

/**
 * A file's bytes as QEMU appends them, until `ended` is done and the end of
 * the file is read once more after that. While QEMU writes, it reads every
 * few milliseconds; once the file has been quiet for a while, it sleeps
 * until the file is written to (reading three consoles every 10 ms for a
 * whole boot took a third of a core from the QEMUs beside it; a watch kept
 * while a serial console writes a few bytes at a time costs more than the
 * reads).
 */
export const follow = (
  file: FileSystem.File,
  path: string,
  ended: Deferred.Deferred<void>
): Stream.Stream<Uint8Array, PlatformError> =>
  Stream.paginate(
    { endedBeforeRead: false, offset: 0, emptyReads: 0 },
    (state) =>
      Effect.gen(function*() {
        const chunk = yield* file.readAlloc(followedChunkSize)
        if (Option.isSome(chunk)) {
          const next = { ...state, offset: state.offset + chunk.value.length, emptyReads: 0 }
          return [[chunk.value], Option.some(next)] as const
        }
        if (state.endedBeforeRead) return [[], Option.none()] as const
        const hasEnded = yield* Deferred.isDone(ended)
        if (!hasEnded) {
          yield* (state.emptyReads < followIdleReads
            ? Effect.sleep(followInterval)
            : untilWritten(file, path, state.offset, ended))
        }
        return [[], Option.some({ ...state, endedBeforeRead: hasEnded, emptyReads: state.emptyReads + 1 })] as const
      })
  )
