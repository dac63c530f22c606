/**
 * Debian's kernels in the cache, one entry a name and architecture, fetched
 * once with their modules: `kernel/` for the default (6.1) of x86_64,
 * `kernel-arm64/` for arm64's, `kernel-6.12/`, `kernel-6.12-cloud-arm64/`
 * for the others. An entry holds
 *
 * - `vmlinuz`: the package's image;
 * - `vmlinux`: the same kernel decompressed, an ELF QEMU boots through its
 *   PVH entry (seconds faster under TCG), for x86_64 when it could be made;
 * - `modules/<release>/`: the package's `/lib/modules/<release>`;
 * - `release`, and `manifest.json` (what was fetched, each image's size).
 *
 * An entry is made in a directory of its run and renamed into place whole,
 * under the entry's lock (`Cache.withLock`): runs that start together on an
 * empty cache fetch once, the others wait and use it. An entry that does
 * not check out (an image of another size than the manifest says, a
 * release naming no module tree, a missing manifest or file) is fetched
 * again and replaces it. Entries made before there was a manifest are
 * taken when their files are there and their image is a kernel.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Option, Path, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { payloadOf } from "../../formats/bzImage.ts"
import { decompress } from "../../formats/decompress.ts"
import * as Cache from "../cache.ts"
import * as Apt from "../fetch/Apt.ts"
import { formatBytes, Progress } from "../fetch/Progress.ts"
import type * as Architecture from "../machine/Architecture.ts"
import { InvalidInput } from "../machine/Preflight.ts"
import { isKernelImage, isPvhKernel } from "./KernelImage.ts"
import * as KernelNames from "./KernelNames.ts"

/**
 * A kernel of the cache, ready to boot.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly name: string
  readonly directory: string
  /** The image to boot: `vmlinux` when it boots through PVH, else `vmlinuz`. */
  readonly image: string
  readonly release: string
  /** `modules/<release>`. */
  readonly moduleTree: string
}

/**
 * What `manifest.json` says of an entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Manifest {
  readonly name: string
  readonly arch: string
  readonly package: string
  readonly version: string
  readonly release: string
  /** The images and their sizes in bytes. */
  readonly images: Readonly<Record<string, number>>
  /** The image to boot. */
  readonly boot: string
}

/**
 * A kernel could not be fetched into the cache.
 *
 * @since 0.1.0
 * @category errors
 */
export class KernelFetchFailed extends Data.TaggedError("KernelFetchFailed")<{
  readonly name: string
  readonly arch: string
  readonly reason: string
}> {
  override get message(): string {
    return `fetching Debian's ${this.name} kernel for ${this.arch} failed: ${this.reason}`
  }
}

/**
 * The directory of a kernel's entry in the cache: `kernel` + `-<name>`
 * unless it is the default + `-<architecture>` unless x86_64.
 *
 * @since 0.1.0
 * @category constants
 */
export const directoryFor = (name: string, arch: Architecture.Facts) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const parts = [
      "kernel",
      ...(name === KernelNames.defaultName ? [] : [name]),
      ...(arch.debian === "amd64" ? [] : [arch.debian])
    ]
    return path.join(yield* Cache.root, parts.join("-"))
  })

/** Why an entry does not check out, or the entry. */
type Checked = { readonly ok: true; readonly entry: Entry } | { readonly ok: false; readonly reason: string }

const bad = (reason: string): Checked => ({ ok: false, reason })

/** Bytes of a file; -1 when it is missing or no file. */
const sizeOf = Effect.fnUntraced(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  return yield* fs.stat(file).pipe(
    Effect.map((info) => info.type === "File" ? Number(info.size) : -1),
    Effect.orElseSucceed(() => -1)
  )
})

const isDirectory = Effect.fnUntraced(function*(dir: string) {
  const fs = yield* FileSystem.FileSystem
  return yield* fs.stat(dir).pipe(Effect.map((info) => info.type === "Directory"), Effect.orElseSucceed(() => false))
})

/**
 * Whether the entry in `directory` is whole and of `name`: its release
 * names a module tree that is there, and its images have the sizes its
 * manifest says (a few `stat`s: every run does this).
 *
 * @since 0.1.0
 * @category checks
 */
export const check = Effect.fn("KernelCache.check")(function*(
  directory: string,
  name: string,
  arch: Architecture.Facts
): Effect.fn.Return<Checked, never, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const release = (yield* fs.readFileString(path.join(directory, "release")).pipe(Effect.orElseSucceed(() => "")))
    .trim()
  if (release === "") return bad("it has no release file")
  const moduleTree = path.join(directory, "modules", release)
  if (!(yield* isDirectory(moduleTree))) return bad(`its release ${release} names no module tree`)
  const text = yield* fs.readFileString(path.join(directory, "manifest.json")).pipe(Effect.option)
  if (Option.isNone(text)) {
    // An entry made before manifests: taken when its release is of the series and its image is a kernel.
    if (!release.startsWith(`${name.split("-")[0]}.`)) return bad(`its release ${release} is not of ${name}`)
    const vmlinux = path.join(directory, "vmlinux")
    const image = (yield* isPvhKernel(vmlinux)) ? vmlinux : path.join(directory, "vmlinuz")
    if (!(yield* isKernelImage(image, arch))) return bad(`${image} is not a kernel image`)
    return { ok: true, entry: { name, directory, image, release, moduleTree } }
  }
  const manifest = yield* Effect.try({ try: () => JSON.parse(text.value) as Manifest, catch: () => "" }).pipe(
    Effect.option
  )
  if (Option.isNone(manifest) || typeof manifest.value.images !== "object") return bad("its manifest is unreadable")
  if (manifest.value.name !== name) return bad(`it holds ${manifest.value.name}`)
  if (manifest.value.release !== release) return bad(`its manifest is of ${manifest.value.release}`)
  for (const [image, size] of Object.entries(manifest.value.images)) {
    const actual = yield* sizeOf(path.join(directory, image))
    if (actual !== size) {
      return bad(actual === -1 ? `${image} is missing` : `${image} has ${actual} bytes, not ${size}`)
    }
  }
  const image = path.join(directory, manifest.value.boot)
  return { ok: true, entry: { name, directory, image, release, moduleTree } }
})

/** Decompresses the kernel of a bzImage: gzip and zstd here, xz with the host's xz (its BCJ filter). */
const decompressKernel = Effect.fnUntraced(function*(vmlinuz: string, vmlinux: string) {
  const fs = yield* FileSystem.FileSystem
  const payload = payloadOf(yield* fs.readFile(vmlinuz))
  if (payload === undefined) return "no compressed kernel found in it"
  if (payload.format === "gzip" || payload.format === "zstd") {
    // The kernel appends the decompressed size (4 bytes) after a zstd frame: the frame alone is decompressed.
    const bytes = yield* decompress(payload.format, payload.bytes).pipe(
      Effect.catch(() => decompress(payload.format as "zstd", payload.bytes.subarray(0, payload.bytes.length - 4))),
      Effect.option
    )
    if (Option.isNone(bytes)) return `its ${payload.format} payload did not decompress`
    yield* fs.writeFile(vmlinux, bytes.value)
    return undefined
  }
  if (payload.format !== "xz") return `its ${payload.format ?? "unknown"} compression is not undone here`
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const exitCode = yield* Effect.scoped(Effect.gen(function*() {
    const handle = yield* spawner.spawn(
      ChildProcess.make("xz", ["-dc", "--single-stream"], { stdin: Stream.make(payload.bytes), stderr: "ignore" })
    )
    yield* handle.stdout.pipe(Stream.run(fs.sink(vmlinux)))
    return yield* handle.exitCode
  })).pipe(Effect.orElseSucceed(() => -1))
  return exitCode === 0 ? undefined : "xz could not decompress it (is xz installed?)"
})

/**
 * Fetches a kernel by name into its entry: the newest package of the name
 * for the architecture, with its modules, downloaded and unpacked in a
 * directory of this run, then put in place whole. Under the entry's lock;
 * when another run fetched it meanwhile, that entry is used. A name apt
 * does not have is `InvalidInput` for `source` (`--kernel`), naming those
 * it has.
 *
 * @since 0.1.0
 * @category fetching
 */
export const fetch = Effect.fn("KernelCache.fetch")(function*(
  name: string,
  arch: Architecture.Facts,
  source: string
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const progress = yield* Progress
  const directory = yield* directoryFor(name, arch)
  const label = `kernel ${name} for ${arch.debian}`
  const fail = (reason: string) => new KernelFetchFailed({ name, arch: arch.debian, reason })
  const work = Effect.gen(function*() {
    const again = yield* check(directory, name, arch)
    if (again.ok) return again.entry
    const present = yield* fs.exists(directory)
    if (present) yield* progress.stage(`${label}: fetching it again: ${directory} ${again.reason}`)
    yield* Cache.removeLeftovers(directory)
    yield* Apt.ensureArchitecture(arch.debian)
    const names = yield* KernelNames.available(arch.debian)
    const named = names.find((candidate) => candidate.name === name)
    if (named === undefined) {
      return yield* new InvalidInput({
        flag: source,
        reason: `no kernel named ${name} for ${arch.debian}; kernels by name: ${
          names.map((candidate) => candidate.name).join(", ")
        } (Debian's newest of each), or give a kernel image file`
      })
    }
    const imagePackage = named.meta.depends.find((dependency) => dependency.startsWith("linux-image-"))
    if (imagePackage === undefined) return yield* fail(`${named.meta.package} names no linux-image package`)
    const [image] = yield* Apt.show([`${imagePackage}:${arch.debian}`])
    if (image === undefined) return yield* fail(`apt does not know ${imagePackage}`)
    const release = image.package.slice("linux-image-".length).replace(/-unsigned$/, "")
    // Ubuntu's modules come in a package of their own.
    const modulesPackage = image.depends.find((dependency) => dependency === `linux-modules-${release}`)
    const records = [
      image,
      ...(modulesPackage === undefined ? [] : yield* Apt.show([`${modulesPackage}:${arch.debian}`]))
    ]
    const total = records.reduce((sum, record) => sum + record.size, 0)

    const partial = yield* Cache.partialDirectory(directory)
    const debs = path.join(partial, "debs")
    const root = path.join(partial, "root")
    yield* fs.makeDirectory(debs)
    yield* progress.stage(`${label}: downloading ${image.package} ${image.version} (${formatBytes(total)})`)
    const files = yield* Apt.download(records, debs, `${label}: downloading`)
    yield* progress.stage(`${label}: unpacking`)
    for (const deb of files) yield* Apt.extract(deb, root)
    yield* fs.remove(debs, { recursive: true })

    const boot = yield* fs.readDirectory(path.join(root, "boot")).pipe(Effect.orElseSucceed(() => []))
    const vmlinuzName = boot.find((file) => file.startsWith("vmlinuz-"))
    if (vmlinuzName === undefined) return yield* fail(`${image.package} has no /boot/vmlinuz-*`)
    const vmlinuz = path.join(partial, "vmlinuz")
    yield* fs.rename(path.join(root, "boot", vmlinuzName), vmlinuz)
    yield* fs.chmod(vmlinuz, 0o644)
    if (!(yield* isKernelImage(vmlinuz, arch))) {
      return yield* fail(`${image.package}'s ${vmlinuzName} is not a kernel image`)
    }
    yield* fs.makeDirectory(path.join(partial, "modules"))
    const trees = [path.join(root, "lib/modules", release), path.join(root, "usr/lib/modules", release)]
    for (const tree of trees) {
      if (yield* isDirectory(tree)) {
        yield* fs.rename(tree, path.join(partial, "modules", release))
        break
      }
    }
    if (!(yield* isDirectory(path.join(partial, "modules", release)))) {
      return yield* fail(`${image.package} has no /lib/modules/${release}`)
    }
    yield* fs.remove(root, { recursive: true })

    const images: Record<string, number> = { vmlinuz: yield* sizeOf(vmlinuz) }
    let bootImage = "vmlinuz"
    if (arch.debian === "amd64") {
      yield* progress.stage(`${label}: decompressing the image (it boots through PVH, seconds sooner under TCG)`)
      const vmlinux = path.join(partial, "vmlinux")
      const failed = yield* decompressKernel(vmlinuz, vmlinux)
      if (failed === undefined && (yield* isPvhKernel(vmlinux))) {
        images["vmlinux"] = yield* sizeOf(vmlinux)
        bootImage = "vmlinux"
      } else {
        yield* Effect.ignore(fs.remove(vmlinux, { force: true }))
        yield* progress.stage(`${label}: booting the compressed image (slower): ${failed ?? "no PVH entry"}`)
      }
    }
    const manifest: Manifest = {
      name,
      arch: arch.debian,
      package: image.package,
      version: image.version,
      release,
      images,
      boot: bootImage
    }
    yield* fs.writeFileString(path.join(partial, "release"), `${release}\n`)
    yield* fs.writeFileString(path.join(partial, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`)
    yield* Cache.publish(partial, directory, { replace: present })
    const done = yield* check(directory, name, arch)
    if (!done.ok) return yield* fail(`${directory} ${done.reason} after it was fetched`)
    yield* progress.stage(`${label}: ${release} ready in ${directory}`)
    return done.entry
  }).pipe(
    Effect.scoped,
    Effect.catchTag(["AptError", "PlatformError"], (error) => Effect.fail(fail(error.message)))
  )
  return yield* Cache.withLock(path.basename(directory), work, {
    onWait: (holder) => progress.stage(`${label}: waiting for run ${holder.pid}, which is fetching it`)
  }).pipe(Effect.catchTag("LockError", (error) => Effect.fail(fail(error.message))))
})

/**
 * A kernel by name from the cache, fetched on first use (and again when
 * its entry does not check out).
 *
 * @since 0.1.0
 * @category resolution
 */
export const ensure = Effect.fn("KernelCache.ensure")(function*(
  name: string,
  arch: Architecture.Facts,
  source: string
) {
  const checked = yield* check(yield* directoryFor(name, arch), name, arch)
  if (checked.ok) return checked.entry
  return yield* fetch(name, arch, source)
})
