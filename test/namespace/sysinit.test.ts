/**
 * A whole `Sysinit.run` on the live kernel: refused outside PID 1, and run as
 * PID 1 of fresh namespaces until its poweroff ends that PID 1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as LiveKernel from "../../src/kernels/liveKernel.ts"
import { NodeProcess } from "../../src/NodeProcess.ts"
import { Syscalls, type SyscallsShape } from "../../src/Syscalls.ts"
import * as Sysinit from "../../src/Sysinit.ts"
import { program, runAsPidOne, userNamespaces } from "./harness.ts"

/**
 * The live kernel, except that every call but getpid dies instead of reaching
 * the kernel and is recorded: this test process runs on the host.
 */
const guardedKernel = (touched: Array<string>) =>
  Layer.effect(
    Syscalls,
    Effect.map(LiveKernel.make, (live) => {
      const guarded: Record<string, unknown> = {}
      for (const [name, member] of Object.entries(live)) {
        const refuse = () => {
          touched.push(name)
          return Effect.die(new Error(`${name} reached the host's kernel`))
        }
        guarded[name] = name === "getpid" ? member : Effect.isEffect(member) ? Effect.suspend(refuse) : refuse
      }
      return guarded as unknown as SyscallsShape
    })
  )

/**
 * A process whose every hook dies instead of hooking into this test process,
 * and is recorded (not the live one, whose building alone would hook in).
 */
const guardedProcess = (touched: Array<string>) => {
  const refuse = (name: string) =>
    Effect.suspend(() => {
      touched.push(name)
      return Effect.die(new Error(`${name} reached the host's process`))
    })
  return Layer.succeed(NodeProcess, {
    getEnv: () => refuse("getEnv"),
    setEnv: () => refuse("setEnv"),
    signals: () => refuse("signals"),
    processFaults: refuse("processFaults"),
    spawnedChildren: refuse("spawnedChildren"),
    settleOutput: refuse("settleOutput"),
    writeStderr: () => refuse("writeStderr"),
    redirectStdout: () => refuse("redirectStdout"),
    runChild: () => refuse("runChild")
  })
}

const guardedLive = (touched: Array<string>) => Layer.merge(guardedKernel(touched), guardedProcess(touched))

const lines = (text: string): Array<string> => text.split("\n").filter((line) => line !== "")
const sysinitRun = (mode: string) => runAsPidOne(program("sysinitRun.ts"), [mode])

describe("Sysinit.run on the live kernel", () => {
  it.effect("outside PID 1 (this test process) fails with NotPidOne having touched nothing", () =>
    Effect.gen(function*() {
      const touched: Array<string> = []
      const error = yield* Effect.flip(Sysinit.run(Sysinit.setExitCode(0)).pipe(Effect.provide(guardedLive(touched))))
      assert.instanceOf(error, Sysinit.NotPidOne)
      assert.strictEqual((error as Sysinit.NotPidOne).pid, process.pid)
      assert.deepStrictEqual(touched, [])
    }))

  describe.skipIf(!userNamespaces.available)("as PID 1 of new namespaces", () => {
    it.effect("a user namespace refuses devtmpfs on /dev: the run says so, prints no exit code, and powers off", () =>
      Effect.map(sysinitRun("live"), (run) => {
        assert.match(run.stderr, /^sysinit \S+ \S+ ERROR run failed: mount "\/dev": EPERM/m)
        assert.notInclude(run.stderr, "VIRTRUN_EXIT_CODE")
        assert.notInclude(run.stdout, "step ran")
        assert.strictEqual(run.signal, "SIGHUP")
      }))

    it.effect(
      "with tmpfs for devtmpfs: steps run, optional mounts are warned about, finalizers run in reverse, the exit code line is printed, poweroff is SIGHUP",
      () =>
        Effect.map(sysinitRun("devtmpfs as tmpfs"), (run) => {
          assert.deepStrictEqual(lines(run.stdout), ["steps ran", "finalizer 2", "finalizer 1"])
          const stderr = lines(run.stderr)
          assert.include(stderr, "VIRTRUN_EXIT_CODE: 300")
          assert.strictEqual(stderr.at(-1), "VIRTRUN_EXIT_CODE: 300")
          assert.isTrue(
            stderr.some((line) => /WARN {2}optional mount failed: mount "\/sys\/fs\/bpf": EPERM/.test(line)),
            run.stderr
          )
          assert.notInclude(run.stderr, "ERROR")
          assert.deepStrictEqual({ signal: run.signal, exitCode: run.exitCode }, { signal: "SIGHUP", exitCode: null })
        })
    )

    it.effect("a failing step: finalizers still run, the failure is logged, no exit code line, poweroff", () =>
      Effect.map(sysinitRun("failing step"), (run) => {
        assert.deepStrictEqual(lines(run.stdout), ["finalizer 1"])
        assert.match(run.stderr, /ERROR run failed: ioctl "nosuch0": ENODEV/)
        assert.notInclude(run.stderr, "VIRTRUN_EXIT_CODE")
        assert.strictEqual(run.signal, "SIGHUP")
      }))
  })
})
