/**
 * `node bench/kernels.ts [--n 5] [--kernels 6.1,6.1-cloud,6.12,6.12-cloud]`:
 * Debian's kernel flavours side by side. Each kernel (by name, fetched once
 * into the cache) boots the bench's init (`inits/sysinit.ts`: print a line,
 * exit 0) with `effect-sysinit vm --no-kvm --verbose`, N times, the kernels
 * in turn, in reverse order every other round. Figures per kernel: wall
 * time from the command's start to its exit, and the guest's clock at
 * `reboot: Restarting system` (console 0: the kernel's boot and the init,
 * without the runner's work on the host; of the runs whose console 0 has
 * it); and whether the kernel has what
 * the runner needs: 9p and 9pnet_virtio (exec's shares, --host-root, the
 * vitest pool), virtio_console (the virtio transport, arm64's only one),
 * vmgenid (a restored machine told it is a copy), each built in, a module
 * of its tree, or absent.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Kernel from "../src/runner/kernel/Kernel.ts"
import { formatMs, median, summarize } from "./stats.ts"

const flagValue = (name: string): string | undefined => {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}
const count = Number(flagValue("--n") ?? 5)
const kernels = (flagValue("--kernels") ?? "6.1,6.1-cloud,6.12,6.12-cloud").split(",")
const cli = fileURLToPath(new URL("../bin/effect-sysinit", import.meta.url))
const init = fileURLToPath(new URL("inits/sysinit.ts", import.meta.url))
const needs = ["9p", "9pnet_virtio", "virtio_console", "vmgenid"]

/** Whether a module is built into the kernel, a file of its tree, or neither. */
const presence = (tree: string, module: string): string => {
  const builtin = fs.readFileSync(path.join(tree, "modules.builtin"), "utf8").split("\n")
  if (builtin.some((line) => path.basename(line) === `${module}.ko`)) return "built in"
  const files = fs.readdirSync(tree, { recursive: true }) as ReadonlyArray<string>
  return files.some((file) =>
      /^[^.]+\.ko(\.xz|\.zst|\.gz)?$/.test(path.basename(file)) &&
      path.basename(file).split(".")[0] === module
    )
    ? "module"
    : "absent"
}

interface Boot {
  readonly ok: boolean
  readonly wallMs: number
  /** The guest's clock at `reboot: Restarting system`, in ms. */
  readonly guestMs: number | undefined
}

const boot = (kernel: string): Promise<Boot> =>
  new Promise((resolve) => {
    const started = performance.now()
    let stderr = ""
    const child = spawn(process.execPath, [cli, "vm", "--no-kvm", "--verbose", "--kernel", kernel, init], {
      stdio: ["ignore", "ignore", "pipe"]
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("exit", (code) => {
      const reboot = /\[\s*(\d+\.\d+)\] reboot: Restarting system/.exec(stderr)?.[1]
      if (code !== 0) process.stderr.write(`${kernel}: exit ${code}\n${stderr.split("\n").slice(-5).join("\n")}\n`)
      resolve({
        ok: code === 0,
        wallMs: performance.now() - started,
        guestMs: reboot === undefined ? undefined : Number(reboot) * 1000
      })
    })
  })

const found = await Effect.runPromise(
  Effect.forEach(kernels, (name) => Kernel.find(name)).pipe(Effect.provide(NodeServices.layer))
)
const rows = kernels.map((name, i) => ({ name, ...found[i]! }))

console.log("what the runner needs, per kernel:")
for (const row of rows) {
  const tree = row.moduleTree!
  const sizes = `image ${(fs.statSync(row.image).size / 1e6).toFixed(1)} MB`
  console.log(
    `  ${row.name.padEnd(11)} ${path.basename(tree).padEnd(28)} ${
      needs.map((module) => `${module}: ${presence(tree, module)}`).join(", ")
    }; ${sizes}`
  )
}

// One boot each first: the image of each kernel built and cached, QEMU's and the kernel's files read once.
for (const row of rows) await boot(row.name)
const boots = new Map(rows.map((row) => [row.name, [] as Array<Boot>]))
for (let round = 0; round < count; round++) {
  const order = round % 2 === 0 ? rows : rows.toReversed()
  for (const row of order) boots.get(row.name)!.push(await boot(row.name))
  process.stderr.write(`round ${round + 1} of ${count}\n`)
}

console.log(`\nboot to exit under TCG, ${count} boots each, median (min–max):`)
const generic = (name: string) => name.replace(/-(cloud|rt)$/, "")
for (const row of rows) {
  const own = boots.get(row.name)!.filter((run) => run.ok)
  const wall = summarize(own.map((run) => run.wallMs), 0)
  const guest = summarize(own.map((run) => run.guestMs), 0)
  const base = boots.get(generic(row.name))?.filter((run) => run.ok)
  const versus = base === undefined || generic(row.name) === row.name || own.length === 0 || base.length === 0
    ? ""
    : `; wall ${(median(own.map((run) => run.wallMs)) - median(base.map((run) => run.wallMs))).toFixed(0)} ms against ${
      generic(row.name)
    }`
  // The reboot line is the kernel's last: not every run's console 0 has it by the time QEMU ends.
  const guestCount = own.filter((run) => run.guestMs !== undefined).length
  console.log(
    `  ${row.name.padEnd(11)} wall ${formatMs(wall)}, guest at reboot ${
      formatMs(guest)
    } (${guestCount} of ${own.length})` +
      versus
  )
}
