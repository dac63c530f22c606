/**
 * The VM tier: each test boots a real VM under TCG with an init from
 * ./inits, so each takes seconds; checks are grouped into few boots. How a
 * step's failure, a throw or a failing finalizer ends a run is the unit
 * tier's (test/unit/sysinit.test.ts) and the namespace tier's; the runner's
 * verdict on each console 0 line is test/unit/runner's.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, FileSystem, Option } from "effect"
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { Mount } from "../../src/index.ts"
import * as Kernel from "../../src/runner/kernel/Kernel.ts"
import * as Qemu from "../../src/runner/machine/Qemu.ts"
import * as Verdict from "../../src/runner/machine/verdict.ts"
import { isAlive } from "../unit/runner/fakeQemu.ts"
import { boot, bootTimeout, hasQemu, inits } from "./harness.ts"

const exited = (code: number) => Qemu.Outcome.Exited({ code })

describe.skipIf(!hasQemu)("a VM booted with the runner", () => {
  it.live(
    "sets the machine up: mounts, /dev links, lo, host name, env, sysctl, a module from the kernel package",
    () =>
      Effect.gen(function*() {
        const modules = yield* Kernel.cachedModules
        assert.isTrue(Option.isSome(modules), "the cached kernel has its modules")
        const dummy = join(Option.getOrThrow(modules), "kernel/drivers/net/dummy.ko")
        const run = yield* boot("checks.ts", {
          modules: [dummy],
          files: [import.meta.filename],
          args: ["first", "with space"]
        })
        assert.deepStrictEqual(run.outcome, exited(0))
        const report = JSON.parse(run.stdout.toString("utf8"))
        assert.deepStrictEqual(report.args, ["first", "with space"])

        const mounted = new Map<string, string>(report.mounts)
        for (const [path, type] of [["/dev", "devtmpfs"], ["/proc", "proc"], ["/sys", "sysfs"]]) {
          assert.strictEqual(mounted.get(path!), type, path)
        }
        for (const [path, point] of Object.entries(Mount.systemMountPoints())) {
          if (report.filesystems.includes(point.fsType) && path !== "/sys/fs/fuse/connections") {
            assert.strictEqual(mounted.get(path), point.fsType, path)
          }
        }
        assert.deepStrictEqual(report.links, {
          "/dev/core": "/proc/kcore",
          "/dev/fd": "/proc/self/fd/",
          "/dev/rtc": "rtc0",
          "/dev/stderr": "/proc/self/fd/2",
          "/dev/stdin": "/proc/self/fd/0",
          "/dev/stdout": "/proc/self/fd/1"
        })
        assert.strictEqual(Number(report.loFlags) & 1, 1, "lo is up")
        assert.deepStrictEqual(
          report.hostname,
          { os: "sysinit-vm", proc: "sysinit-vm" },
          "withHostname named the guest"
        )
        assert.strictEqual(report.env, "set by withEnv")
        assert.strictEqual(report.ipForward, "1")
        assert.isTrue(report.dummyLoaded, "/sys/module/dummy exists")
        assert.deepStrictEqual(report.data, ["vm.test.ts"])
        assert.strictEqual(report.osRelease, report.kernelRelease, "node:os answers for the guest, not the host")
      }).pipe(Effect.provide(NodeServices.layer)),
    bootTimeout
  )

  it.live(
    "exits the CLI with the guest's exit code 1, shows console 0 with --verbose, and keeps the guest's colours out of a piped stdout",
    () =>
      Effect.sync(() => {
        const cli = join(import.meta.dirname, "../../bin/effect-sysinit")
        // The host's colour choices are the user's; this runs as a CI job with neither.
        const { FORCE_COLOR: _force, NO_COLOR: _no, ...env } = process.env
        const result = spawnSync(process.execPath, [cli, "vm", "--verbose", join(inits, "colours.ts")], {
          encoding: "utf8",
          timeout: bootTimeout,
          env
        })
        assert.strictEqual(result.status, 1, result.stderr)
        assert.include(result.stderr, "VIRTRUN_EXIT_CODE: 1")
        // The guest's stdout is a console, a terminal: only the runner's NO_COLOR for a piped stdout keeps it plain.
        assert.strictEqual(result.stdout, "14 { a: 'b' }\n")
      }),
    bootTimeout
  )

  it.live("kills QEMU at the timeout and says so", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      // QEMU itself, behind a script that tells its pid first (exec keeps it).
      const qemu = join(dir, "qemu-system-x86_64")
      const pidFile = join(dir, "pid")
      yield* fs.writeFileString(qemu, `#!/bin/sh\necho $$ > '${pidFile}'\nexec qemu-system-x86_64 "$@"\n`, {
        mode: 0o755
      })
      const run = yield* boot("colours.ts", { timeout: "2 seconds", qemu })
      assert.deepStrictEqual(run.outcome, Qemu.Outcome.TimedOut({ timeout: Duration.seconds(2) }))
      assert.deepStrictEqual(Verdict.exitOf(run.outcome), {
        code: 124,
        reason: "guest timed out after 2s, QEMU killed"
      })
      assert.isFalse(isAlive(Number(yield* fs.readFileString(pidFile))), "QEMU's process is gone")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), bootTimeout)
})
