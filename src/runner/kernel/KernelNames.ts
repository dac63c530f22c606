/**
 * Kernels by name: `6.1`, `6.12`, `6.12-cloud`, `6.1-rt`, … name the
 * newest Debian kernel of a series and flavour for the guest's
 * architecture. A name is read from apt's meta packages, which always
 * depend on the newest image of theirs: `linux-image-6.12-cloud-amd64` is
 * `6.12-cloud`, and `linux-image-amd64`, whose version says 6.1 on
 * bookworm, is `6.1` (its flavours, `linux-image-cloud-amd64`, `6.1-cloud`).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Apt from "../fetch/Apt.ts"

/**
 * The kernel the runner boots when none is asked for: Debian's 6.1 series,
 * bookworm's own.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultName = "6.1"

/**
 * Whether a `--kernel` that is no file looks like a kernel's name (`6.12`,
 * `6.12-cloud`, `6.12-16k`) rather than a path.
 *
 * @since 0.1.0
 * @category parsing
 */
export const looksLikeName = (text: string): boolean => /^\d+\.\d+(-[a-z0-9]+)*$/.test(text)

/**
 * A kernel name apt has for an architecture, with the meta package it comes from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Named {
  readonly name: string
  readonly meta: Apt.PackageRecord
}

/** A name's series as numbers, to sort 6.1 before 6.12. */
const seriesOf = (name: string): ReadonlyArray<number> => name.split("-")[0]!.split(".").map(Number)

const notMeta = new Set(["dbg", "unsigned", "signed", "template"])

/**
 * The names of the kernel meta packages among `records` (apt's candidates)
 * for the architecture `arch` (Debian's name), sorted by series then
 * flavour. Packages of one release (`linux-image-6.1.0-57-amd64`), debug
 * symbols and templates are not kernels by name.
 *
 * @since 0.1.0
 * @category parsing
 */
export const namesOf = (records: ReadonlyArray<Apt.PackageRecord>, arch: string): ReadonlyArray<Named> => {
  const found = new Map<string, Named>()
  for (const record of records) {
    if (!record.package.startsWith("linux-image-") || record.architecture !== arch) continue
    const tokens = record.package.slice("linux-image-".length).split("-")
    const at = tokens.indexOf(arch)
    if (at === -1 || tokens.some((token) => notMeta.has(token))) continue
    const before = tokens.slice(0, at)
    const series = /^\d+\.\d+$/.test(before[0] ?? "") ? before.shift()! : /^(\d+\.\d+)\./.exec(record.version)?.[1]
    if (series === undefined || !before.every((token) => /^[a-z][a-z0-9]*$/.test(token))) continue
    const name = [series, ...before, ...tokens.slice(at + 1)].join("-")
    if (!found.has(name)) found.set(name, { name, meta: record })
  }
  return [...found.values()].toSorted((a, b) => {
    const [x, y] = [seriesOf(a.name), seriesOf(b.name)]
    return (x[0]! - y[0]!) || (x[1]! - y[1]!) || a.name.localeCompare(b.name)
  })
}

/**
 * The kernel names apt has for an architecture (Debian's name), asked of
 * apt; after an `apt-get update` when apt knows no kernel at all (a fresh
 * machine's empty lists).
 *
 * @since 0.1.0
 * @category resolution
 */
export const available = Effect.fn("KernelNames.available")(function*(arch: string) {
  const ask = Effect.gen(function*() {
    const metas = (yield* Apt.packageNames("linux-image-")).filter((name) =>
      !/^linux-image-\d+\.\d+\.\d+/.test(name) && name.split("-").includes(arch)
    )
    return namesOf(yield* Apt.show(metas.map((name) => `${name}:${arch}`)), arch)
  })
  const first = yield* ask
  if (first.length > 0) return first
  yield* Apt.update(`apt knows no ${arch} kernel`)
  return yield* ask
})
