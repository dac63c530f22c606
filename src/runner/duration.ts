/**
 * Durations as users write them, for `--timeout` and the vitest pool's
 * `timeout`: one parser, so that both take the same spellings.
 *
 * @since 0.1.0
 */
import { Duration, Option } from "effect"

const units: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(?:ms|millis(?:econds?)?)$/, 1],
  [/^(?:s|secs?|seconds?)$/, 1000],
  [/^(?:m|mins?|minutes?)$/, 60_000],
  [/^(?:h|hours?)$/, 3_600_000]
]

/**
 * Reads `90`, `90s`, `1500ms`, `2m`, `1h`, `60 seconds` or `2 minutes` as a
 * duration; a bare number is seconds.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text.trim())
  if (match === null) return Option.none()
  const unit = match[2] === "" ? 1000 : units.find(([pattern]) => pattern.test(match[2]!))?.[1]
  return unit === undefined ? Option.none() : Option.some(Duration.millis(Number(match[1]) * unit))
}

/**
 * What `parseDuration` takes, for a message about a value it refuses.
 *
 * @since 0.1.0
 * @category parsing
 */
export const durationExamples = "a duration such as 90, 90s, 2m, 1500ms or 60 seconds"
