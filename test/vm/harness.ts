/**
 * What the VM tier's tests share: whether the host has the tools, and one
 * boot of an init of ./inits through the runner, collecting what it wrote.
 */
import { Duration, Effect } from "effect"
import { join } from "node:path"
import * as Runner from "../../src/runner/Runner.ts"
import { hasTool } from "../shared/tools.ts"

export { hasTool }

export const hasQemu = hasTool("qemu-system-x86_64")

if (!hasQemu) {
  console.warn(
    "\n!!! VM TESTS SKIPPED: qemu-system-x86_64 is not installed.\n!!! Run `npm run setup` (as root) to install QEMU and the kernel; CI does.\n"
  )
}

/**
 * qemu-system-aarch64 for the one arm64 boot. CI installs it
 * (scripts/setup.sh amd64 arm64): there the boot runs anyway and a missing
 * one fails it, naming the package.
 */
export const hasArm64Qemu = hasTool("qemu-system-aarch64") || process.env["CI"] !== undefined

if (!hasArm64Qemu) {
  console.warn(
    "\n!!! ARM64 VM TEST SKIPPED: qemu-system-aarch64 is not installed.\n!!! Run `sh scripts/setup.sh amd64 arm64` (as root) to install it and the arm64 kernel; CI does.\n"
  )
}

/**
 * A run's stderr without the runner's progress lines (an image built, a
 * machine saved, a kernel fetched: what a run on a new cache says), which
 * come and go with the cache's state.
 */
export const withoutProgress = (stderr: string): string =>
  stderr.replace(
    /^effect-sysinit: (?:image|machine|kernel \S+ for \S+|node, koffi and C libraries for \S+ guests): .*\n/gm,
    ""
  )

/** A vitest timeout for one boot of a few seconds, with room for a slow, shared machine. */
export const bootTimeout = 300_000

export const inits = join(import.meta.dirname, "inits")

/** Boots `inits/<init>`; prints its build and boot times to stderr. */
export const boot = (
  init: string,
  options: Omit<Partial<Runner.Options>, "init" | "stdout" | "console"> = {}
) =>
  Effect.gen(function*() {
    const stdout: Array<Uint8Array> = []
    const console: Array<string> = []
    const report = yield* Runner.run({
      init: join(inits, init),
      stdout: (chunk) => Effect.sync(() => void stdout.push(chunk)),
      console: (line) => Effect.sync(() => void console.push(line)),
      timeout: "280 seconds",
      ...options
    })
    process.stderr.write(
      `${init} ${options.args?.join(" ") ?? ""}: initramfs ${(report.initramfsBytes / 1e6).toFixed(1)} MB, ` +
        `build ${Duration.format(report.build)}, boot ${Duration.format(report.boot)}\n`
    )
    return { outcome: report.outcome, stdout: Buffer.concat(stdout), console }
  })
