/**
 * Nothing outlives the runner: QEMU dies with it however it ends (SIGKILL
 * included), it ends when its parent does, and it leaves no file behind.
 * Each test starts the runner in its own temporary directory (TMPDIR), waits
 * for its QEMU, ends it mid-boot and then looks for what is left.
 */
import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { bootTimeout, hasQemu, inits } from "./harness.ts"
import { childrenOf, isAlive, waitFor } from "./processes.ts"

const bin = join(import.meta.dirname, "../../bin/effect-sysinit")
// TCG: QEMU's CPU time is then the sign that the guest boots (see qemuOf), also on a host with KVM.
const sleeper = [bin, "vm", "--no-kvm", "--timeout", "280", join(inits, "failing.ts"), "--", "sleep"]

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once("exit", (code) => resolve(code))
  })

/**
 * QEMU among the children of `pid`, once it has run the guest for a CPU
 * second: it has opened its files and loaded the kernel and the initramfs
 * (a QEMU killed before that would fail to open them and end by itself).
 */
const qemuOf = (pid: number) =>
  waitFor(
    `QEMU started by ${pid}`,
    () => childrenOf(pid).find((child) => child.comm.startsWith("qemu-system") && child.cpuSeconds >= 1)?.pid
  )

/**
 * A directory for TMPDIR, and the check that the run left nothing in it;
 * the processes the test names in `started` are killed if they outlive it
 * (when the test fails).
 */
const withTmpdir = async (test: (tmpdir: string, started: Array<number>) => Promise<void>) => {
  const tmpdir = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-lifetime-"))
  const started: Array<number> = []
  try {
    await test(tmpdir, started)
    assert.deepStrictEqual(fs.readdirSync(tmpdir), [], "files left in TMPDIR")
  } finally {
    for (const pid of started) if (isAlive(pid)) process.kill(pid, "SIGKILL")
    fs.rmSync(tmpdir, { recursive: true, force: true })
  }
}

describe.skipIf(!hasQemu)("nothing outlives the runner", () => {
  it(
    "kill -9 of the runner mid-boot takes QEMU with it and leaves no temporary file",
    () =>
      withTmpdir(async (tmpdir, started) => {
        const runner = spawn(process.execPath, sleeper, { stdio: "ignore", env: { ...process.env, TMPDIR: tmpdir } })
        started.push(runner.pid!)
        const qemu = await qemuOf(runner.pid!)
        started.push(qemu)
        assert.deepStrictEqual(fs.readdirSync(tmpdir), [], "the initramfs and consoles have no name while QEMU runs")
        runner.kill("SIGKILL")
        await exited(runner)
        await waitFor("QEMU to die with the runner", () => isAlive(qemu) ? undefined : true, 30_000)
      }),
    bootTimeout
  )

  it("SIGTERM to the runner stops QEMU and exits 143", () =>
    withTmpdir(async (tmpdir, started) => {
      const runner = spawn(process.execPath, sleeper, { stdio: "ignore", env: { ...process.env, TMPDIR: tmpdir } })
      started.push(runner.pid!)
      const qemu = await qemuOf(runner.pid!)
      started.push(qemu)
      runner.kill("SIGTERM")
      assert.strictEqual(await exited(runner), 143)
      assert.isFalse(isAlive(qemu), "QEMU is gone when the runner has exited")
    }), bootTimeout)

  it(
    "the runner stops when its parent dies, as when a harness kills npx, which passes no signal on",
    () =>
      withTmpdir(async (tmpdir, started) => {
        // Like npx: starts the runner as its child and does not forward signals.
        const wrapper = spawn(process.execPath, [
          "-e",
          `require("node:child_process").spawn(process.execPath, ${
            JSON.stringify(sleeper)
          }, { stdio: "ignore" }); setInterval(() => {}, 1e6)`
        ], { stdio: "ignore", env: { ...process.env, TMPDIR: tmpdir } })
        started.push(wrapper.pid!)
        const runner = await waitFor("the runner", () => childrenOf(wrapper.pid!)[0]?.pid)
        started.push(runner)
        const qemu = await qemuOf(runner)
        started.push(qemu)
        wrapper.kill("SIGTERM")
        await exited(wrapper)
        await waitFor("the runner to stop", () => isAlive(runner) ? undefined : true, 60_000)
        await waitFor("QEMU to stop", () => isAlive(qemu) ? undefined : true, 30_000)
      }),
    bootTimeout
  )
})
