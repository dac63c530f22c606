/** Median and range of a sample, as the bench prints them. */

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.toSorted((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export const summarize = (values: ReadonlyArray<number | undefined>, digits = 1): Summary | undefined => {
  const known = values.filter((value): value is number => value !== undefined)
  if (known.length === 0) return undefined
  const round = (value: number) => Math.round(value * 10 ** digits) / 10 ** digits
  return {
    median: round(median(known)),
    min: round(Math.min(...known)),
    max: round(Math.max(...known)),
    n: known.length
  }
}

export const formatMs = (summary: Summary | undefined): string =>
  summary === undefined
    ? "n/a"
    : `${summary.median.toFixed(0)} ms (${summary.min.toFixed(0)}–${summary.max.toFixed(0)})`
