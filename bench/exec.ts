/**
 * `npm run bench -- --exec [--n 5]`: `effect-sysinit exec` of a node program
 * that prints one line, with and without `--host-root`, against a busybox
 * peer doing the same: without the host's root, node in the initramfs
 * (configuration 2 of the boot bench, its image built by the runner's
 * builder); with it, a shell init that loads the same modules with insmod,
 * mounts the same 9p share with the same options, binds the same
 * directories and runs the same node (the host's, over 9p). Pairs alternate;
 * figures are from the start of the command to the line and to its exit.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, FileSystem, Path } from "effect"
import { spawn } from "node:child_process"
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
}

/** Runs a command; the time to the hello line on stdout and to the exit. */
const timeCommand = (command: string, args: ReadonlyArray<string>): Promise<Timing> =>
  new Promise((resolve) => {
    const started = performance.now()
    let lineMs = Number.NaN
    let out = ""
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (Number.isNaN(lineMs) && out.includes(`${hello}\n`)) lineMs = performance.now() - started
    })
    child.on("exit", (code) =>
      resolve({ ok: code === 0 && !Number.isNaN(lineMs), lineMs, exitMs: performance.now() - started }))
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

  const configurations = [
    { name: "exec, node in the initramfs", run: () => timeCommand(process.execPath, [cli, "exec", helloFile]) },
    { name: "busybox peer, node in the initramfs", run: () => runPeer(timePeer(plainPeer, false)) },
    {
      name: "exec --host-root, the host's node over 9p",
      run: () => timeCommand(process.execPath, [cli, "exec", "--host-root", helloFile])
    },
    {
      name: "busybox peer, insmod + 9p mount, the host's node over 9p",
      run: () => runPeer(timePeer(hostRootPeer, true))
    }
  ]
  const results = configurations.map(() => [] as Array<Timing>)
  for (let round = 1; round <= count; round++) {
    for (const [i, configuration] of configurations.entries()) {
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
  const lines = [
    `npm run bench -- --exec --n ${count} (TCG, pairs alternated, load average ${
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
    ...[[0, 1], [2, 3]].map(([a, b]) => {
      const line = ratio(a!, b!, (t) => t.lineMs)
      const exit = ratio(a!, b!, (t) => t.exitMs)
      return `ratio of "${configurations[a!]!.name}" to its peer, median of pairs: line ${
        line?.median.toFixed(2)
      }, exit ${exit?.median.toFixed(2)}`
    })
  ]
  console.log(lines.join("\n"))
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

await Effect.runPromise(program)
