/**
 * Whether a run uses KVM. `--kvm` and `--no-kvm` decide; otherwise a probe
 * does (`Qemu.probeKvm`: the kernel alone booted with KVM must reach its
 * "cannot mount root" panic within a few seconds), since a `/dev/kvm` alone
 * proves nothing: nested KVM can hang the boot. The probe's answer is
 * cached in the cache directory (`kvm/`) under a key of what it depends on:
 * the boot (`/proc/sys/kernel/random/boot_id`), the kernel and the QEMU
 * binary (path, size, mtime), `/dev/kvm` (mode, owner, group) and the
 * runner's user and groups. Only the first run with a new key pays for the
 * probe; a reboot, a new kernel or QEMU, or changed permissions probe again.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { ChildProcessSpawner } from "effect/process"
import * as Cache from "../cache.ts"
import * as Remembered from "../remembered.ts"
import * as Architecture from "./Architecture.ts"
import * as Qemu from "./Qemu.ts"

/**
 * `true` (`--kvm`), `false` (`--no-kvm`) or `"auto"`: the probe, cached.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = boolean | "auto"

/**
 * Whether the run uses KVM, and why, in a sentence for `--verbose`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Choice {
  readonly kvm: boolean
  readonly reason: string
}

/**
 * What a probe's answer depends on, besides the kernel and QEMU.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostFacts {
  readonly bootId: string
  /** `/dev/kvm`'s mode, owner and group; undefined when there is none. */
  readonly device: { readonly mode: number; readonly uid: number; readonly gid: number } | undefined
  /** Whether this process may open `/dev/kvm` for reading and writing. */
  readonly accessible: boolean
  readonly uid: number
  readonly gids: ReadonlyArray<number>
}

/**
 * The probe's timeout: a working KVM reaches the panic in about a second.
 *
 * @since 0.1.0
 * @category constants
 */
export const probeTimeout: Duration.Duration = Duration.seconds(4)

const kvmDevice = "/dev/kvm"

/**
 * This host's facts, read now.
 *
 * @since 0.1.0
 * @category resolution
 */
export const hostFacts: Effect.Effect<HostFacts, never, FileSystem.FileSystem> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const bootId = yield* fs.readFileString("/proc/sys/kernel/random/boot_id").pipe(
    Effect.map((text) => text.trim()),
    Effect.orElseSucceed(() => "unknown")
  )
  const info = yield* Effect.option(fs.stat(kvmDevice))
  const device = Option.map(info, (stat) => ({
    mode: stat.mode,
    uid: Option.getOrElse(stat.uid, () => -1),
    gid: Option.getOrElse(stat.gid, () => -1)
  }))
  const accessible = Option.isSome(device)
    ? yield* fs.access(kvmDevice, { readable: true, writable: true }).pipe(
      Effect.as(true),
      Effect.orElseSucceed(() => false)
    )
    : false
  return {
    bootId,
    device: Option.getOrUndefined(device),
    accessible,
    uid: process.getuid?.() ?? -1,
    gids: process.getgroups?.() ?? []
  }
})

/**
 * The cache key of a probe: a hash of everything its answer depends on.
 *
 * @since 0.1.0
 * @category resolution
 */
export const cacheKey = (facts: HostFacts, kernel: Remembered.Identity, qemu: Remembered.Identity): string =>
  Remembered.hash({
    bootId: facts.bootId,
    device: facts.device,
    uid: facts.uid,
    gids: facts.gids.toSorted((a, b) => a - b),
    kernel,
    qemu
  })

/** The program's path: as given when it has a slash, else the first one on PATH. */
const onPath = Effect.fnUntraced(function*(program: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  if (program.includes("/")) return program
  for (const dir of (process.env["PATH"] ?? "").split(":").filter((entry) => entry !== "")) {
    const candidate = path.join(dir, program)
    if (yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))) return candidate
  }
  return program
})

/**
 * What the cache holds for a key.
 *
 * @since 0.1.0
 * @category models
 */
export interface CachedProbe {
  readonly works: boolean
  readonly bootId: string
  readonly probedAt: string
  readonly probeMillis: number
}

/**
 * How `decide` finds things out; the defaults are the real ones, tests give their own.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecideOptions {
  readonly kernel: string
  readonly arch: Architecture.Facts
  /** The QEMU binary; the architecture's from PATH by default. */
  readonly qemu?: string | undefined
  /** Where the answers are kept; `kvm/` in the runner's cache by default. */
  readonly cacheDirectory?: string | undefined
  readonly facts?: Effect.Effect<HostFacts, never, FileSystem.FileSystem> | undefined
  readonly probe?:
    | ((
      kernel: string
    ) => Effect.Effect<boolean, never, FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner>)
    | undefined
}

const forceHint = "--kvm forces KVM"

/** A cached answer, when the text is one: a file cut short or written by hand is none. */
const parseProbe = (text: string): Option.Option<CachedProbe> => {
  try {
    return Option.some(JSON.parse(text) as CachedProbe)
  } catch {
    return Option.none()
  }
}

/**
 * Whether this run uses KVM, probing (once per cache key) when not told.
 *
 * @since 0.1.0
 * @category resolution
 */
export const decide = Effect.fn("Kvm.decide")(function*(
  mode: Mode,
  options: DecideOptions
): Effect.fn.Return<
  Choice,
  PlatformError,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  if (mode === true) return { kvm: true, reason: "KVM: used, as --kvm asks" }
  if (mode === false) return { kvm: false, reason: "KVM: not used, as --no-kvm asks; TCG emulates the guest" }
  if (!Architecture.isHost(options.arch)) {
    return {
      kvm: false,
      reason: `KVM: not used: the guest is ${options.arch.name}, the host ${process.arch}; TCG emulates it`
    }
  }
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const facts = yield* (options.facts ?? hostFacts)
  if (facts.device === undefined) {
    return { kvm: false, reason: `KVM: not used: no ${kvmDevice}; TCG emulates the guest` }
  }
  if (!facts.accessible) {
    return {
      kvm: false,
      reason: `KVM: not used: ${kvmDevice} is not readable and writable by uid ${facts.uid}; TCG emulates the guest`
    }
  }
  const qemu = options.qemu ?? options.arch.qemu
  const key = cacheKey(
    facts,
    yield* Remembered.identity(options.kernel),
    yield* Remembered.identity(yield* onPath(qemu))
  )
  const directory = options.cacheDirectory ?? (yield* Cache.folder("kvm"))
  const file = path.join(directory, `${key}.json`)
  const cached = yield* fs.readFileString(file).pipe(
    Effect.map(parseProbe),
    Effect.orElseSucceed(() => Option.none<CachedProbe>())
  )
  if (Option.isSome(cached)) {
    const { probeMillis, probedAt, works } = cached.value
    return {
      kvm: works,
      reason: `${verdict(works, probeMillis)} (probed ${probedAt}, cached in ${file}${until(works)})`
    }
  }
  const probe = options.probe ??
    ((kernel: string) => Qemu.probeKvm(kernel, { qemu, timeout: probeTimeout, arch: options.arch }))
  const started = yield* Clock.currentTimeMillis
  const works = yield* probe(options.kernel)
  const probeMillis = (yield* Clock.currentTimeMillis) - started
  const entry: CachedProbe = { works, bootId: facts.bootId, probedAt: new Date(started).toISOString(), probeMillis }
  // Without a cache (a read-only home), every run probes.
  yield* store(directory, file, entry).pipe(Effect.ignore)
  return { kvm: works, reason: `${verdict(works, probeMillis)} (probed now, cached in ${file}${until(works)})` }
})

const verdict = (works: boolean, probeMillis: number): string =>
  works
    ? `KVM: used: a probe boot with it reached the kernel's panic in ${probeMillis} ms`
    : probeMillis >= Duration.toMillis(probeTimeout)
    ? `KVM: not used, TCG instead: a probe boot with it did not end within ${Duration.format(probeTimeout)}`
    : `KVM: not used, TCG instead: a probe boot with it failed after ${probeMillis} ms`

const until = (works: boolean): string =>
  ` until a reboot or a change of kernel, QEMU or ${kvmDevice}; ${works ? "--no-kvm uses TCG" : forceHint}`

/** Writes the answer (atomically: runs may probe at once) and drops answers of earlier boots. */
const store = Effect.fnUntraced(function*(directory: string, file: string, entry: CachedProbe) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  yield* fs.makeDirectory(directory, { recursive: true })
  for (const name of yield* fs.readDirectory(directory)) {
    if (!name.endsWith(".json")) continue
    const other = path.join(directory, name)
    const bootId = yield* fs.readFileString(other).pipe(
      Effect.map((text) => Option.getOrUndefined(parseProbe(text))?.bootId),
      Effect.orElseSucceed(() => undefined)
    )
    if (bootId !== entry.bootId) yield* fs.remove(other, { force: true }).pipe(Effect.ignore)
  }
  yield* Cache.writeFile(file, `${JSON.stringify(entry)}\n`)
})
