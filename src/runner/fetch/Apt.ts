/**
 * The one door to Debian's package tools (`apt-get`, `apt-cache`, `dpkg`,
 * `dpkg-deb`): the kernels and a foreign guest's C libraries come from
 * Debian's archive through here, downloaded with `apt-get download` (no
 * root needed, nothing installed) and unpacked with `dpkg-deb -x`.
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect, Fiber, FileSystem, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { ChildProcessSpawner } from "effect/process"
import { Progress } from "./Progress.ts"
import * as Tool from "./tool.ts"

/**
 * An apt tool is missing or failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class AptError extends Data.TaggedError("AptError")<{ readonly command: string; readonly reason: string }> {
  override get message(): string {
    return `${this.command}: ${this.reason}`
  }
}

/**
 * What `apt-cache show` says of a package's candidate version.
 *
 * @since 0.1.0
 * @category models
 */
export interface PackageRecord {
  readonly package: string
  readonly version: string
  readonly architecture: string
  /** The packages it depends on, by name (the first of each set of alternatives, no versions). */
  readonly depends: ReadonlyArray<string>
  /** Bytes of its `.deb`. */
  readonly size: number
}

/**
 * The records of `apt-cache show`'s output: paragraphs of `Field: value`
 * lines (continuation lines start with a space).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseRecords = (text: string): ReadonlyArray<PackageRecord> =>
  text.split(/\n\s*\n/).flatMap((paragraph) => {
    const fields = new Map<string, string>()
    let last = ""
    for (const line of paragraph.split("\n")) {
      if (/^\s/.test(line) && last !== "") fields.set(last, `${fields.get(last)}\n${line.trim()}`)
      else {
        const colon = line.indexOf(":")
        if (colon <= 0) continue
        last = line.slice(0, colon)
        fields.set(last, line.slice(colon + 1).trim())
      }
    }
    const name = fields.get("Package")
    if (name === undefined) return []
    const depends = (fields.get("Depends") ?? "").split(",").map((group) => group.split("|")[0]!.trim())
      .map((item) => item.split(/[\s(]/)[0]!).filter((item) => item !== "")
    return [{
      package: name,
      version: fields.get("Version") ?? "",
      architecture: fields.get("Architecture") ?? "",
      depends,
      size: Number(fields.get("Size") ?? 0)
    }]
  })

/** Runs one apt tool to its end: its stdout, or why it failed. */
const run = (command: string, args: ReadonlyArray<string>, options: { readonly cwd?: string | undefined } = {}) =>
  Tool.run(command, args, {
    ...options,
    missing: "fetching from Debian's archive needs Debian's or Ubuntu's apt and dpkg"
  }).pipe(Effect.mapError((error) => new AptError({ command: error.command, reason: error.reason })))

const isRoot = (): boolean => process.getuid?.() === 0

/**
 * Makes apt know the packages of a Debian architecture (`arm64`, …): the
 * host's own needs nothing; a foreign one is added once (`dpkg
 * --add-architecture`, then `apt-get update`), which needs root.
 *
 * @since 0.1.0
 * @category setup
 */
export const ensureArchitecture = Effect.fn("Apt.ensureArchitecture")(function*(arch: string) {
  const native = (yield* run("dpkg", ["--print-architecture"])).trim()
  if (arch === native) return
  const foreign = (yield* run("dpkg", ["--print-foreign-architectures"])).split("\n").map((line) => line.trim())
  if (foreign.includes(arch)) return
  if (!isRoot()) {
    return yield* new AptError({
      command: "dpkg --print-foreign-architectures",
      reason: `apt does not know ${arch} packages; as root: dpkg --add-architecture ${arch} && apt-get update`
    })
  }
  const progress = yield* Progress
  yield* progress.stage(`adding the ${arch} architecture to apt (dpkg --add-architecture ${arch}) and updating`)
  yield* run("dpkg", ["--add-architecture", arch])
  yield* run("apt-get", ["update", "-qq"])
})

/**
 * Updates apt's lists of packages (`apt-get update`), as root; a user
 * that is not gets why the lists are needed.
 *
 * @since 0.1.0
 * @category setup
 */
export const update = Effect.fn("Apt.update")(function*(why: string) {
  if (!isRoot()) {
    return yield* new AptError({ command: "apt-get update", reason: `${why}; run apt-get update as root` })
  }
  const progress = yield* Progress
  yield* progress.stage(`${why}: running apt-get update`)
  yield* run("apt-get", ["update", "-qq"])
})

/**
 * The names of the packages apt knows that start with `prefix`.
 *
 * @since 0.1.0
 * @category queries
 */
export const packageNames = Effect.fn("Apt.packageNames")(function*(prefix: string) {
  const text = yield* run("apt-cache", ["pkgnames", prefix])
  return text.split("\n").map((line) => line.trim()).filter((line) => line !== "")
})

/**
 * The candidate records of packages (`name` or `name:arch`); those apt
 * does not know are left out.
 *
 * @since 0.1.0
 * @category queries
 */
export const show = Effect.fn("Apt.show")(function*(packages: ReadonlyArray<string>) {
  if (packages.length === 0) return []
  const text = yield* run("apt-cache", ["show", "--no-all-versions", ...packages]).pipe(
    // apt-cache exits 100 when it knows none of them.
    Effect.catchIf((error) => error.reason.includes("No packages found"), () => Effect.succeed(""))
  )
  return parseRecords(text)
})

/** Bytes of the files in `dir`: what a download has written so far. */
const bytesIn = Effect.fnUntraced(function*(dir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed(() => []))
  let total = 0
  for (const name of names) {
    const info = yield* fs.stat(path.join(dir, name)).pipe(Effect.option)
    if (info._tag === "Some" && info.value.type === "File") total += Number(info.value.size)
  }
  return total
})

/**
 * Downloads the `.deb` files of packages into `dir` (`apt-get download`),
 * telling `Progress` how many of their bytes are there as they come under
 * `text`; the paths of the files.
 *
 * @since 0.1.0
 * @category fetching
 */
export const download = Effect.fn("Apt.download")(function*(
  packages: ReadonlyArray<PackageRecord>,
  dir: string,
  text: string
): Effect.fn.Return<
  ReadonlyArray<string>,
  AptError | PlatformError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const progress = yield* Progress
  const total = packages.reduce((sum, record) => sum + record.size, 0)
  const poll = Effect.gen(function*() {
    while (true) {
      yield* progress.bytes(text, yield* bytesIn(dir), total)
      yield* Effect.sleep(Duration.millis(250))
    }
  })
  const poller = yield* Effect.forkChild(poll)
  // As root, apt-get drops to its _apt user, which cannot write into a cache under /root: it downloads as root.
  const sandbox = isRoot() ? ["-o", "APT::Sandbox::User=root"] : []
  yield* run(
    "apt-get",
    ["download", "-qq", ...sandbox, ...packages.map((record) => `${record.package}:${record.architecture}`)],
    { cwd: dir }
  ).pipe(Effect.ensuring(Fiber.interrupt(poller)))
  yield* progress.bytes(text, yield* bytesIn(dir), total)
  const debs = (yield* fs.readDirectory(dir)).filter((name) => name.endsWith(".deb")).map((name) =>
    path.join(dir, name)
  )
  if (debs.length < packages.length) {
    return yield* new AptError({
      command: "apt-get download",
      reason: `${packages.length} packages asked for, ${debs.length} .deb files in ${dir}`
    })
  }
  return debs
})

/**
 * Unpacks a `.deb`'s files into `dir` (`dpkg-deb -x`).
 *
 * @since 0.1.0
 * @category fetching
 */
export const extract = Effect.fn("Apt.extract")(function*(deb: string, dir: string) {
  yield* run("dpkg-deb", ["-x", deb, dir])
})
