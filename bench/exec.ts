/**
 * `npm run bench -- --exec [--n 5]`: `effect-sysinit exec` from the
 * command's start to its exit, restored from its saved machine (warm) and
 * booted cold (`--cold`), against busybox peers that boot cold: `exec
 * /bin/true` against busybox alone (the floor: mounts, a line, reboot);
 * `exec` of a node program that prints one line against busybox running the
 * same node from its initramfs; and with `--host-root`, against busybox
 * loading the same modules, mounting the same 9p share and running the
 * host's node. Configurations alternate, every other round in reverse
 * order. The warm runs report the runner's own `--timings`; the figures of
 * the saved machine (its size, how long saving it took) come from the first,
 * saving run.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, FileSystem, Path } from "effect"
import { spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import { fileURLToPath } from "node:url"
import { ninePMountData } from "../src/protocol/execSpec.ts"
import * as ExecPlan from "../src/runner/exec/ExecPlan.ts"
import * as Initramfs from "../src/runner/image/Initramfs.ts"
import * as Kernel from "../src/runner/kernel/Kernel.ts"
import * as Architecture from "../src/runner/machine/Architecture.ts"
import * as Qemu from "../src/runner/machine/Qemu.ts"
import * as Runner from "../src/runner/Runner.ts"
import * as PeerImages from "./peerImages.ts"
import { formatMs, summarize } from "./stats.ts"

const flagValue = (name: string): string | undefined => {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}
const count = Number(flagValue("--n") ?? 5)
const hello = "hello from a fresh VM"
const cli = fileURLToPath(new URL("../bin/effect-sysinit", import.meta.url))
const helloSource = fileURLToPath(new URL("inits/hello.mjs", import.meta.url))

interface Timing {
  readonly ok: boolean
  readonly lineMs: number
  readonly exitMs: number
  /** The runner's --timings, by phase (ms from the command's start; "start" is 0). */
  readonly timings?: Readonly<Record<string, number>> | undefined
  /** What the runner said of a save, when it saved. */
  readonly saved?: string | undefined
}

/** Runs a command; the time to the hello line on stdout (when asked for) and to the exit, and what --timings says. */
const timeCommand = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cache: string; readonly line: boolean }
): Promise<Timing> =>
  new Promise((resolve) => {
    const started = performance.now()
    let lineMs = options.line ? Number.NaN : 0
    let out = ""
    let err = ""
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SYSINIT_CACHE_DIR: options.cache }
    })
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (Number.isNaN(lineMs) && out.includes(`${hello}\n`)) lineMs = performance.now() - started
    })
    child.stderr.on("data", (chunk: Buffer) => void (err += chunk.toString()))
    child.on("exit", (code) => {
      const line = /timings, ms from the command's start: (.*)$/m.exec(err)?.[1]
      const timings = line === undefined ? undefined : Object.fromEntries([
        ["start", 0],
        ...line.split(", ").map((part) => {
          const at = part.lastIndexOf(" ")
          return [part.slice(0, at), Number(part.slice(at + 1))] as const
        })
      ])
      if (code !== 0) process.stderr.write(err)
      resolve({
        ok: code === 0 && !Number.isNaN(lineMs),
        lineMs,
        exitMs: performance.now() - started,
        timings,
        saved: /saved the machine at its ready point in (\d+ ms)/.exec(err)?.[1]
      })
    })
  })

// The host-root peer: busybox does by hand what the built-in init does for --host-root.
const hostRootPeerScript = (
  busybox: string,
  modules: ReadonlyArray<string>,
  binds: ReadonlyArray<{ source: string; target: string }>
) =>
  `#!${busybox} sh
bb=${busybox}
$bb mount -t devtmpfs -o nosuid devtmpfs /dev
$bb mount -t proc -o nosuid,nodev,noexec proc /proc
$bb mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
${modules.map((module) => `$bb insmod /lib/modules/${module.split("/").at(-1)}`).join("\n")}
$bb mkdir -p /host
$bb mount -t 9p -o ro,${ninePMountData(true)} hostroot /host
${binds.map(({ source, target }) => `$bb mkdir -p ${target}; $bb mount --bind /host${source} ${target}`).join("\n")}
for d in /tmp /run /var/tmp /root; do $bb mkdir -p $d; $bb mount -t tmpfs tmpfs $d; done
$bb stty -F /dev/ttyS1 raw -echo clocal
/usr/bin/node /data/hello.mjs >/dev/ttyS1
echo "VIRTRUN_EXIT_CODE: $?" >&2
$bb reboot -f
`

const runPeer = (
  peer: Effect.Effect<Timing, unknown, Runner.Requirements>
): Promise<Timing> => Effect.runPromise(Effect.provide(peer, NodeServices.layer))

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-sysinit-bench-exec-" })
  const kernel = yield* Kernel.resolve(undefined)
  const tree = yield* Kernel.cachedModules
  const node = yield* Runner.defaultNode
  const busybox = yield* Effect.promise(() =>
    new Promise<string>((resolve, reject) => {
      const child = spawn("sh", [fileURLToPath(new URL("fetch-busybox.sh", import.meta.url))], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => void (out += chunk.toString()))
      child.on("exit", (code) => code === 0 ? resolve(out.trim().split("\n").at(-1)!) : reject(new Error("busybox")))
    })
  )
  const helloFile = path.join(dir, "hello.mjs")
  yield* fs.copyFile(helloSource, helloFile)

  // The peers' images, built once.
  const plainPeer = path.join(dir, "peer.cpio")
  yield* PeerImages.buildPeer({ output: plainPeer, node, busybox, hello: helloFile })
  const planned = yield* ExecPlan.plan({
    program: helloFile,
    args: [],
    cwd: dir,
    shares: [],
    hostRoot: true,
    arch: Architecture.all.x86_64,
    moduleTree: tree._tag === "Some" ? tree.value : undefined,
    hostEnv: process.env,
    color: { NO_COLOR: "1" },
    guest: { env: {} },
    runShare: false
  })
  const hostRootPeer = path.join(dir, "peer-hostroot.cpio")
  yield* Initramfs.build({
    output: hostRootPeer,
    init: new TextEncoder().encode(hostRootPeerScript(
      `${Initramfs.dataDirectory}/busybox`,
      planned.imageModules,
      planned.spec.hostRoot!.binds
    )),
    node,
    files: [busybox, helloFile],
    modules: planned.imageModules
  })
  // A peer's boot, timed from QEMU's start as the runner's consoles see it (console 1 followed as a file).
  const timePeer = (initramfs: string, hostRoot: boolean) =>
    Effect.gen(function*() {
      const started = performance.now()
      let out = ""
      let lineMs = Number.NaN
      const { outcome } = yield* Qemu.run({
        kernel,
        initramfs,
        memory: 1024,
        smp: 1,
        kvm: false,
        transport: "serial",
        args: [],
        shares: hostRoot ? planned.shares : []
      }, {
        stdout: (chunk) =>
          Effect.sync(() => {
            out += new TextDecoder().decode(chunk)
            if (Number.isNaN(lineMs) && out.includes(`${hello}\n`)) lineMs = performance.now() - started
          }),
        console: () => Effect.void,
        outputs: [],
        timeout: "180 seconds"
      })
      const exitMs = performance.now() - started
      return { ok: outcome._tag === "Exited" && outcome.code === 0 && !Number.isNaN(lineMs), lineMs, exitMs }
    })

  const floorPeer = path.join(dir, "floor.cpio")
  yield* PeerImages.buildFloor({ output: floorPeer, busybox })
  const cache = path.join(dir, "cache")
  // A cache of the bench's own (its machines and images start empty), with the cached kernel given by path.
  const kernelFlags = ["--kernel", kernel, "--kernel-modules", tree._tag === "Some" ? tree.value : ""]
  const execArgs = (args: ReadonlyArray<string>) => [cli, "exec", "--timings", "--verbose", ...kernelFlags, ...args]
  // The first runs save the machines (and build the images): their figures are the save's, not a run's.
  const saves: Array<string> = []
  for (const args of [["/bin/true"], [helloFile], ["--host-root", helloFile]]) {
    const first = yield* Effect.promise(() => timeCommand(process.execPath, execArgs(args), { cache, line: false }))
    saves.push(`${args.join(" ")}: ${first.saved ?? "no save reported"}, first run ${first.exitMs.toFixed(0)} ms`)
  }
  const configurations = [
    {
      name: "exec /bin/true, warm",
      run: () => timeCommand(process.execPath, execArgs(["/bin/true"]), { cache, line: false })
    },
    {
      name: "exec --cold /bin/true",
      run: () => timeCommand(process.execPath, execArgs(["--cold", "/bin/true"]), { cache, line: false })
    },
    { name: "busybox floor (cold)", run: () => runPeer(timePeer(floorPeer, false)) },
    {
      name: "exec node program, warm",
      run: () => timeCommand(process.execPath, execArgs([helloFile]), { cache, line: true })
    },
    {
      name: "exec --cold node program",
      run: () => timeCommand(process.execPath, execArgs(["--cold", helloFile]), { cache, line: true })
    },
    { name: "busybox peer, node in the initramfs (cold)", run: () => runPeer(timePeer(plainPeer, false)) },
    {
      name: "exec --host-root node program, warm",
      run: () => timeCommand(process.execPath, execArgs(["--host-root", helloFile]), { cache, line: true })
    },
    {
      name: "busybox peer, insmod + 9p mount, the host's node (cold)",
      run: () => runPeer(timePeer(hostRootPeer, true))
    }
  ]
  const results = configurations.map(() => [] as Array<Timing>)
  for (let round = 1; round <= count; round++) {
    const order = round % 2 === 0 ? [...configurations.entries()].toReversed() : [...configurations.entries()]
    for (const [i, configuration] of order) {
      const timing = yield* Effect.promise(configuration.run)
      results[i]!.push(timing)
      process.stderr.write(
        `round ${round}/${count} ${configuration.name}: ${timing.ok ? "ok" : "FAILED"}, line ${
          timing.lineMs.toFixed(0)
        } ms, exit ${timing.exitMs.toFixed(0)} ms\n`
      )
    }
  }
  const ratio = (a: number, b: number, of: (timing: Timing) => number) =>
    summarize(results[a]!.map((timing, i) => of(timing) / of(results[b]![i]!)), 2)
  const phase = (i: number, from: string, to: string) =>
    formatMs(summarize(results[i]!.map((timing) => {
      const [start, end] = [timing.timings?.[from], timing.timings?.[to]]
      return start === undefined || end === undefined ? undefined : end - start
    })))
  const machines = path.join(cache, "machines")
  const sizes = (yield* fs.readDirectory(machines)).filter((name) => !name.includes(".")).map((name) => {
    const ram = NodeFs.statSync(path.join(machines, name, "ram"))
    const state = NodeFs.statSync(path.join(machines, name, "state"))
    return `${(ram.blocks * 512 / 2 ** 20).toFixed(0)} MiB of RAM written + ${
      (state.size / 1024).toFixed(0)
    } KiB of device state`
  })
  const lines = [
    `npm run bench -- --exec --n ${count} (TCG, configurations alternated, load average ${
      NodeOs.loadavg().map((load) => load.toFixed(1)).join(" ")
    } at the end; median (min–max))`,
    "",
    "| configuration | start to the line | start to exit | failures |",
    "|---|---|---|---|",
    ...configurations.map((configuration, i) =>
      `| ${configuration.name} | ${formatMs(summarize(results[i]!.map((t) => t.lineMs)))} | ${
        formatMs(summarize(results[i]!.map((t) => t.exitMs)))
      } | ${results[i]!.filter((t) => !t.ok).length} |`
    ),
    "",
    ...[[0, 2], [1, 2], [3, 5], [4, 5], [6, 7]].map(([a, b]) =>
      `ratio of "${configurations[a!]!.name}" to "${configurations[b!]!.name}", median of pairs: exit ${
        ratio(a!, b!, (t) => t.exitMs)?.median.toFixed(2)
      }`
    ),
    "",
    "Warm runs, from --timings (median (min–max)):",
    ...[0, 3, 6].map((i) =>
      `- ${configurations[i]!.name}: start → QEMU spawned ${phase(i, "start", "qemu spawned")}; ` +
      `restore (QEMU spawned → guest ready) ${phase(i, "qemu spawned", "guest ready")}; ` +
      `guest ready → program started ${phase(i, "guest ready", "program started")}; ` +
      `program started → exited ${phase(i, "program started", "program exited")}; ` +
      `QEMU exited → runner exit ${phase(i, "qemu exited", "runner exit")}`
    ),
    "",
    "Saving (paid once per machine):",
    ...saves.map((save) => `- ${save}`),
    `- saved machines: ${sizes.join("; ")}`
  ]
  console.log(lines.join("\n"))
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

await Effect.runPromise(program)
