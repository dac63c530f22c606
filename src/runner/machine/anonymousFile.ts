/**
 * Temporary files without a name on disk, so that nothing is left behind
 * however the runner ends, `kill -9` included: the file is made with
 * `O_TMPFILE` (or, where the file system cannot, created and unlinked at
 * once), and reached through `/proc/<pid>/fd/<n>` of the runner. The runner
 * and its children (QEMU, the node that makes the snapshot) open that path
 * as any other; its space is freed when the last of them closes it.
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import type { Scope } from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { O_TMPFILE } from "../../internal/abi.ts"

/**
 * No temporary file could be made.
 *
 * @since 0.1.0
 * @category errors
 */
export class TemporaryFileError extends Data.TaggedError("TemporaryFileError")<{
  readonly directory: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot make a temporary file in ${this.directory}: ${this.reason}`
  }
}

/**
 * A temporary file without a name.
 *
 * @since 0.1.0
 * @category models
 */
export interface AnonymousFile {
  /** `/proc/<runner's pid>/fd/<n>`: opens the file, in this process and its children, while the scope is open. */
  readonly path: string
}

/**
 * Opens a file in `directory` by a name that is removed at once: for a file
 * system without `O_TMPFILE`, a name for the time of two calls.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openNamedThenUnlinked = (directory: string): number => {
  const parent = fs.mkdtempSync(NodePath.join(directory, "effect-sysinit-"))
  try {
    const named = NodePath.join(parent, "file")
    const fd = fs.openSync(named, "w+", 0o600)
    fs.unlinkSync(named)
    return fd
  } finally {
    fs.rmSync(parent, { recursive: true, force: true })
  }
}

const openUnnamed = (directory: string): number => {
  try {
    return fs.openSync(directory, O_TMPFILE | fs.constants.O_RDWR, 0o600)
  } catch {
    return openNamedThenUnlinked(directory)
  }
}

/**
 * Makes an empty file without a name in the temporary directory (`TMPDIR`,
 * else /tmp), open until the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<AnonymousFile, TemporaryFileError, Scope> = Effect.acquireRelease(
  Effect.try({
    try: () => openUnnamed(os.tmpdir()),
    catch: (error) =>
      new TemporaryFileError({
        directory: os.tmpdir(),
        reason: error instanceof Error ? error.message : String(error)
      })
  }),
  (fd) => Effect.sync(() => fs.closeSync(fd))
).pipe(Effect.map((fd) => ({ path: `/proc/${process.pid}/fd/${fd}` })))
