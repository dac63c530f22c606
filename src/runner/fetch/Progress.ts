/**
 * What a long first-run fetch says while it works, on stderr: one line per
 * stage, and on a terminal the bytes and percent of a download, rewritten
 * in place. Where it goes is a reference with stderr as its default, so
 * that tests take the lines instead.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"

/**
 * Where progress goes: a stage's line, and how far a download is.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reporter {
  /** A stage begins: one line (`kernel 6.12 for amd64: unpacking`). */
  readonly stage: (text: string) => Effect.Effect<void>
  /** `done` of `total` bytes of what `text` names are here. */
  readonly bytes: (text: string, done: number, total: number) => Effect.Effect<void>
}

/**
 * A size for people: `812 kB`, `52.1 MB`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatBytes = (bytes: number): string =>
  bytes < 1e6 ? `${Math.round(bytes / 1e3)} kB` : `${(bytes / 1e6).toFixed(1)} MB`

/**
 * The line of a download's progress: `… 52.1 of 107.2 MB (48%)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const bytesLine = (text: string, done: number, total: number): string => {
  const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0
  return `${text}: ${formatBytes(done)} of ${formatBytes(total)} (${percent}%)`
}

/**
 * A reporter that writes to `write` with the runner's prefix: on a
 * terminal (`tty`) the download's line is rewritten in place and closed by
 * the next stage; elsewhere only the stages' lines.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (write: (text: string) => void, tty: boolean): Reporter => {
  let open = false
  return {
    stage: (text) =>
      Effect.sync(() => {
        write(`${open ? "\r\x1b[K" : ""}effect-sysinit: ${text}\n`)
        open = false
      }),
    bytes: (text, done, total) =>
      tty
        ? Effect.sync(() => {
          write(`\r\x1b[Keffect-sysinit: ${bytesLine(text, done, total)}`)
          open = true
        })
        : Effect.void
  }
}

/**
 * Where the fetches report: stderr, rewritten in place when it is a terminal.
 *
 * @since 0.1.0
 * @category references
 */
export const Progress: Context.Reference<Reporter> = Context.Reference<Reporter>("effect-sysinit/Progress", {
  defaultValue: () => make((text) => void process.stderr.write(text), process.stderr.isTTY === true)
})

/**
 * A reporter that keeps what it is told, for tests: the stages' lines and the downloads' byte counts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const recorder = (): Reporter & {
  readonly stages: Array<string>
  readonly downloads: Array<readonly [done: number, total: number]>
} => {
  const stages: Array<string> = []
  const downloads: Array<readonly [number, number]> = []
  return {
    stages,
    downloads,
    stage: (text) => Effect.sync(() => void stages.push(text)),
    bytes: (_text, done, total) => Effect.sync(() => void downloads.push([done, total]))
  }
}
