/**
 * `npm run bench [-- --n 5] [--json] [--configs sysinit,peer,floor,arm64]`: boots
 * "print a line, exit 0" N times in each configuration, alternating them,
 * under TCG with the same kernel and QEMU flags (configuration "arm64" is
 * configuration 1 in an arm64 guest, with Debian's arm64 kernel, beside
 * the x86_64 one; left out when qemu-system-aarch64 is missing), and prints wall and guest
 * time, initramfs size, the ratios of effect-sysinit to the busybox peer, and
 * the in-guest timelines. `--json` prints the same figures as JSON instead;
 * `--verbose` shows console 0 of every boot; `--startup snapshot|compile-cache|bundle`
 * picks how configuration 1's node starts (the runner's default otherwise).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Clock, Console, Effect, FileSystem, Path } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Kernel from "../src/runner/kernel/Kernel.ts"
import * as Architecture from "../src/runner/machine/Architecture.ts"
import * as Qemu from "../src/runner/machine/Qemu.ts"
import * as Runner from "../src/runner/Runner.ts"
import * as PeerImages from "./peerImages.ts"
import { formatMs, summarize, type Summary } from "./stats.ts"
import * as Timeline from "./timeline.ts"

// "sysinit@STARTUP[+nowarmup][+minify]" is configuration 1 with the runner's
// start-up chosen, for measuring one lever against another in the same run.
type Configuration = "sysinit" | "peer" | "floor" | "arm64" | `sysinit@${string}`

const isSysinit = (configuration: Configuration): boolean =>
  configuration.startsWith("sysinit") || configuration === "arm64"

const describe = (configuration: Configuration): string =>
  configuration === "sysinit"
    ? "1. effect-sysinit (Sysinit.run, default setup)"
    : configuration === "arm64"
    ? "1. effect-sysinit, arm64 guest (from the bundle)"
    : configuration === "peer"
    ? "2. busybox sh init + node child"
    : configuration === "floor"
    ? "3. busybox sh init, no node"
    : `1. effect-sysinit, ${configuration.slice("sysinit@".length)}`

const segmentsOf = (configuration: Configuration): ReadonlyArray<Timeline.Segment> =>
  isSysinit(configuration)
    ? Timeline.sysinitSegments
    : configuration === "peer"
    ? Timeline.peerSegments
    : Timeline.floorSegments

const runnerOptionsOf = (
  configuration: Configuration
): Pick<Runner.Options, "startup" | "snapshot" | "arch" | "kernel"> => {
  if (configuration === "arm64") return { startup, arch: Architecture.all.aarch64, kernel: undefined }
  if (configuration === "sysinit") return { startup }
  const [mode, ...flags] = configuration.slice("sysinit@".length).split("+")
  return {
    startup: mode as Runner.Startup,
    snapshot: { warmup: !flags.includes("nowarmup"), minify: flags.includes("minify") }
  }
}

interface Boot {
  readonly configuration: Configuration
  readonly ok: boolean
  readonly wallMs: number
  readonly initramfsBytes: number
  readonly times: Timeline.GuestTimes
}

const flagValue = (name: string): string | undefined => {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}

const count = Number(flagValue("--n") ?? 5)
const asJson = process.argv.includes("--json")
const hasArm64Qemu = (() => {
  try {
    execFileSync("qemu-system-aarch64", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()
const configurations = (flagValue("--configs") ?? `sysinit,peer,floor${hasArm64Qemu ? ",arm64" : ""}`).split(
  ","
) as ReadonlyArray<Configuration>
const sysinitInit = flagValue("--init") ?? fileURLToPath(new URL("inits/sysinit.ts", import.meta.url))
const verbose = process.argv.includes("--verbose")
const startup = flagValue("--startup") as Runner.Startup | undefined
const guestArgs = [
  "--timeline",
  ...process.argv.filter((arg) => ["--trace-gc", "--time-layers"].includes(arg))
]
const hello = "hello from a fresh VM"

const fetchBusybox = Effect.gen(function*() {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const script = fileURLToPath(new URL("fetch-busybox.sh", import.meta.url))
  const printed = yield* spawner.string(ChildProcess.make("sh", [script], { stderr: "inherit" }))
  return printed.trim().split("\n").at(-1)!
})

const collector = () => {
  const consoleLines: Array<string> = []
  const stdout: Array<Uint8Array> = []
  return {
    consoleLines,
    stdout,
    streams: {
      stdout: (chunk: Uint8Array) => Effect.sync(() => void stdout.push(chunk)),
      console: (line: string) =>
        Effect.sync(() => {
          consoleLines.push(line)
          if (verbose) process.stderr.write(`  | ${line}\n`)
        }),
      timeout: "180 seconds" as const
    }
  }
}

const succeeded = (outcome: Qemu.Outcome, stdout: ReadonlyArray<Uint8Array>): boolean =>
  outcome._tag === "Exited" && outcome.code === 0 && Buffer.concat(stdout).toString("utf8").includes(hello)

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-sysinit-bench-" })
  const kernel = yield* Kernel.find(undefined)
  const node = yield* Runner.defaultNode
  const busybox = yield* fetchBusybox
  const images: Partial<Record<"peer" | "floor", { readonly file: string; readonly bytes: number }>> = {}
  if (configurations.includes("peer")) {
    const file = path.join(dir, "peer.cpio")
    const helloFile = path.join(dir, "hello.mjs")
    yield* fs.copyFile(fileURLToPath(new URL("inits/hello.mjs", import.meta.url)), helloFile)
    images.peer = { file, bytes: yield* PeerImages.buildPeer({ output: file, node, busybox, hello: helloFile }) }
  }
  if (configurations.includes("floor")) {
    const file = path.join(dir, "floor.cpio")
    images.floor = { file, bytes: yield* PeerImages.buildFloor({ output: file, busybox }) }
  }

  const boot = Effect.fnUntraced(function*(configuration: Configuration) {
    const { consoleLines, stdout, streams } = collector()
    if (isSysinit(configuration)) {
      const report = yield* Runner.run({
        init: sysinitInit,
        args: guestArgs,
        kernel,
        node: configuration === "arm64" ? undefined : node,
        kvm: false,
        ...runnerOptionsOf(configuration),
        ...streams
      })
      if (verbose) yield* Console.error(`startup: ${report.startup}, build ${report.build.toString()}`)
      return {
        configuration,
        ok: succeeded(report.outcome, stdout),
        wallMs: report.boot.value._tag === "Millis" ? report.boot.value.millis : Number.NaN,
        initramfsBytes: report.initramfsBytes,
        times: Timeline.parseConsole(consoleLines)
      } satisfies Boot
    }
    const image = images[configuration as "peer" | "floor"]!
    const started = yield* Clock.currentTimeMillis
    const { outcome } = yield* Qemu.run({
      kernel: kernel.image,
      initramfs: image.file,
      memory: 1024,
      smp: 1,
      kvm: false,
      transport: "serial",
      args: guestArgs
    }, { ...streams, outputs: [] })
    const ended = yield* Clock.currentTimeMillis
    return {
      configuration,
      ok: succeeded(outcome, stdout),
      wallMs: ended - started,
      initramfsBytes: image.bytes,
      times: Timeline.parseConsole(consoleLines)
    } satisfies Boot
  })

  const boots: Array<Boot> = []
  for (let round = 1; round <= count; round++) {
    // The boot that follows a pause (the runner's build, the previous round's) runs slower in its first
    // seconds here, whatever it boots: every other round goes in reverse order, so no configuration is
    // always first.
    const order = round % 2 === 1 ? configurations : configurations.toReversed()
    for (const configuration of order) {
      const result = yield* boot(configuration)
      boots.push(result)
      if (!asJson) {
        yield* Console.error(
          `round ${round}/${count} ${configuration}: ${result.ok ? "ok" : "FAILED"}, wall ${
            result.wallMs.toFixed(0)
          } ms, guest ${result.times.restart?.toFixed(0) ?? "?"} ms`
        )
      }
    }
  }
  return report(boots)
}).pipe(Effect.scoped)

const report = (boots: ReadonlyArray<Boot>) => {
  const of = (configuration: Configuration) => boots.filter((boot) => boot.configuration === configuration)
  const byConfiguration = Object.fromEntries(configurations.map((configuration) => {
    const runs = of(configuration)
    const timeline = Object.fromEntries(
      segmentsOf(configuration).map((segment) => [
        segment.name,
        summarize(runs.map((run) => Timeline.duration(run.times, segment)))
      ])
    )
    return [configuration, {
      description: describe(configuration),
      failures: runs.filter((run) => !run.ok).length,
      wallMs: summarize(runs.map((run) => run.wallMs)),
      guestMs: summarize(runs.map((run) => run.times.restart)),
      initramfsBytes: runs[0]?.initramfsBytes,
      timeline
    }]
  }))
  const pairRatios = (one: Configuration, value: (boot: Boot) => number | undefined): Summary | undefined => {
    const twos = of("peer")
    return summarize(
      of(one).map((boot, i) => {
        const a = value(boot)
        const b = twos[i] === undefined ? undefined : value(twos[i])
        return a === undefined || b === undefined ? undefined : a / b
      })
    )
  }
  const ratios = Object.fromEntries(
    // The arm64 guest is beside the x86_64 peer, not a pair of it.
    configurations.filter((configuration) => isSysinit(configuration) && configuration !== "arm64").map((
      configuration
    ) => [configuration, {
      description: describe(configuration),
      wall: pairRatios(configuration, (boot) => boot.wallMs),
      guest: pairRatios(configuration, (boot) => boot.times.restart)
    }])
  )
  return { command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(), n: count, byConfiguration, ratios }
}

type Report = ReturnType<typeof report>

const ratio = (summary: Summary | undefined) =>
  summary === undefined ? "n/a" : `${summary.median.toFixed(2)} (${summary.min.toFixed(2)}–${summary.max.toFixed(2)})`

const table = (result: Report): string => {
  const lines: Array<string> = []
  lines.push(
    `${result.command} (N=${result.n}, TCG, configurations alternated, every other round in reverse order; median (min–max))`
  )
  lines.push("")
  lines.push("| configuration | wall, QEMU start to exit | guest, boot to reboot | initramfs |")
  lines.push("|---|---|---|---|")
  for (const [, figures] of Object.entries(result.byConfiguration)) {
    const failed = figures.failures === 0 ? "" : ` (${figures.failures} FAILED)`
    lines.push(
      `| ${figures.description}${failed} | ${formatMs(figures.wallMs)} | ${formatMs(figures.guestMs)} | ${
        figures.initramfsBytes === undefined ? "n/a" : `${(figures.initramfsBytes / 1e6).toFixed(1)} MB`
      } |`
    )
  }
  lines.push("")
  for (const [, figures] of Object.entries(result.ratios)) {
    lines.push(
      `ratio to 2, median of pairs, of ${figures.description}: wall ${ratio(figures.wall)}, guest ${
        ratio(figures.guest)
      }`
    )
  }
  for (const [, figures] of Object.entries(result.byConfiguration)) {
    lines.push("")
    lines.push(`timeline of ${figures.description}, ms of guest time:`)
    for (const [name, summary] of Object.entries(figures.timeline)) lines.push(`  ${name}: ${formatMs(summary)}`)
  }
  return lines.join("\n")
}

if (process.argv.includes("--exec")) {
  // The exec path: bench/exec.ts.
  await import("./exec.ts")
} else {
  program.pipe(
    Effect.flatMap((result) => Console.log(asJson ? JSON.stringify(result, null, 2) : table(result))),
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain
  )
}
