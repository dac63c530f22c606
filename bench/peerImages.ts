/**
 * The initramfs images of the bench's peers: a static busybox shell script as
 * /init doing the setup that effect-sysinit does (configuration 2, which then
 * runs node as a child), and the same without node (configuration 3, the
 * floor).
 */
import { Effect, Path } from "effect"
import * as Cpio from "../src/formats/cpio.ts"
import { systemMountPoints } from "../src/Mount.ts"
import * as Initramfs from "../src/runner/image/Initramfs.ts"
import { devSymlinks } from "../src/Symlink.ts"
import { kernelMilestones } from "./inits/marks.ts"

const busybox = `${Initramfs.dataDirectory}/busybox`
export const helloProgram = `${Initramfs.dataDirectory}/hello.mjs`

const optionsOf = (flags: number): string => {
  const names: Array<string> = []
  if (flags & 2) names.push("nosuid")
  if (flags & 4) names.push("nodev")
  if (flags & 8) names.push("noexec")
  return names.length === 0 ? "defaults" : names.join(",")
}

// Marks read /proc/uptime (10 ms steps) with shell built-ins only, and are
// written to console 0 at the end, when the bench passes --timeline.
const prologue = `#!${busybox} sh
bb=${busybox}
timeline=
for arg in "$@"; do [ "$arg" = --timeline ] && timeline=--timeline; done
marks=
mark() {
  [ -n "$timeline" ] || return 0
  read -r up rest </proc/uptime
  marks="$marks""bench-uptime $1 $up
"
}
$bb mount -t devtmpfs -o nosuid devtmpfs /dev
$bb mount -t proc -o nosuid,nodev,noexec proc /proc
$bb mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mark essential-mounts-done
`

// The kernel's milestones, from its log, as the node inits read them (bench/inits/marks.ts).
const kernelMarks = kernelMilestones.map(([name, message]) =>
  `s|^\\[ *\\([0-9.]*\\)\\] ${message}.*|bench-uptime ${name} \\1|p`
).join(";")

const epilogue = `[ -z "$timeline" ] || $bb dmesg | $bb sed -n '${kernelMarks}' >&2
printf %s "$marks" >&2
echo "VIRTRUN_EXIT_CODE: $code" >&2
$bb reboot -f
`

/** Configuration 2: effect-sysinit's default setup in busybox, then node as a child. */
export const peerScript = (): string => {
  const mounts = Object.entries(systemMountPoints()).toSorted(([a], [b]) => (a < b ? -1 : 1)).map(
    ([path, point]) =>
      `$bb mkdir -p ${path} 2>/dev/null && $bb mount -t ${point.fsType} -o ${
        optionsOf(point.flags ?? 0)
      } ${point.fsType} ${path} || echo "optional mount failed: ${path}" >&2`
  )
  const links = Object.entries(devSymlinks()).toSorted(([a], [b]) => (a < b ? -1 : 1)).map(
    ([path, target]) => `$bb ln -s ${target} ${path}`
  )
  return prologue + [
    ...mounts,
    "mark system-mounts-done",
    ...links,
    "mark dev-links-done",
    "$bb ip link set lo up",
    "mark lo-up-done",
    "$bb stty -F /dev/ttyS1 raw -echo clocal",
    "$bb ln -s /dev/ttyS1 /dev/virtrun1",
    "mark stdout-pipe-done",
    `/usr/bin/node ${helloProgram} $timeline >/dev/virtrun1`,
    "code=$?",
    "mark node-exited",
    ""
  ].join("\n") + epilogue
}

/** Configuration 3: mount, print, reboot. */
export const floorScript = (): string =>
  prologue + [
    // Raw, as the runner's host pipes are: a cooked tty would end the line with \r\n.
    "$bb stty -F /dev/ttyS1 raw -echo clocal",
    `echo "hello from a fresh VM" >/dev/ttyS1`,
    "code=0",
    ""
  ].join("\n") + epilogue

/** Builds configuration 2's image with the runner's own initramfs builder: same layout, same format. */
export const buildPeer = (options: {
  readonly output: string
  readonly node: string
  readonly busybox: string
  readonly hello: string
}) =>
  Initramfs.build({
    output: options.output,
    init: new TextEncoder().encode(peerScript()),
    node: options.node,
    files: [options.busybox, options.hello]
  }).pipe(Effect.map((built) => built.bytes))

/** Builds configuration 3's image: the directories, /dev/console and /init of the runner's layout, busybox, no node. */
export const buildFloor = (options: { readonly output: string; readonly busybox: string }) =>
  Effect.scoped(Effect.gen(function*() {
    const path = yield* Path.Path
    const writer = yield* Cpio.make(options.output)
    for (const dir of ["/dev", "/proc", "/sys", "/run", "/root", Initramfs.dataDirectory]) {
      yield* writer.directory(dir)
    }
    yield* writer.directory("/tmp", 0o1777)
    yield* writer.characterDevice("/dev/console", 5, 1)
    yield* writer.file("/init", new TextEncoder().encode(floorScript()), 0o755)
    yield* writer.copyFile(path.join(Initramfs.dataDirectory, "busybox"), options.busybox, 0o755)
    yield* writer.finish
    return yield* writer.size
  }))
