/**
 * Pid1.reapZombies: orphans are reaped, a child Node spawned itself never is
 * (libuv waits for it by pid; reaping it would steal its exit). On the memory
 * machine, and on the live kernel in this test process, which needs not be
 * PID 1 to have zombie children of its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as Layer from "../../src/Layer.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import type { NodeProcess } from "../../src/NodeProcess.ts"
import * as Pid1 from "../../src/Pid1.ts"
import { Syscalls } from "../../src/Syscalls.ts"
import { withKernel } from "./helpers.ts"

describe("Pid1.reapZombies on the memory machine", () => {
  it.effect("reaps every orphan zombie and leaves a zombie Node spawned to Node", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.addZombie(100)
      kernel.addZombie(101, { spawnedByNode: true })
      kernel.addZombie(102)
      const reaped = yield* Pid1.reapZombies
      assert.deepStrictEqual(reaped.map((child) => child.pid), [100, 102])
      assert.deepStrictEqual(kernel.state.reaped, [100, 102])
      assert.deepStrictEqual(kernel.state.zombies, [{ pid: 101, spawnedByNode: true }])
      assert.strictEqual(kernel.calls.filter((call) => call.call === "waitpid").length, 2, "101 is not even waited for")
    }).pipe(withKernel()))

  it.effect("with no zombies, reaps nothing and waits for no one", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Pid1.reapZombies, [])
      assert.isFalse((yield* MemoryKernel).calls.some((call) => call.call === "waitpid"))
    }).pipe(withKernel()))
})

/** The state letter of /proc/<pid>/stat ("Z" for a zombie), or undefined once the pid is gone. */
const processState = (pid: number): string | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
  } catch {
    return undefined
  }
}

/** Blocks the event loop (so that libuv cannot wait for the child) until the child is a zombie. */
const blockUntilZombie = (pid: number, limitMs: number): boolean => {
  const deadline = Date.now() + limitMs
  while (Date.now() < deadline) {
    if (processState(pid) === "Z") return true
  }
  return false
}

describe.skipIf(process.platform !== "linux")("Pid1.reapZombies on the live kernel", () => {
  it.live("leaves a zombie that node:child_process spawned to Node, whose 'exit' then reports code 0", () =>
    Effect.gen(function*() {
      const context = yield* Effect.context<Syscalls | NodeProcess>()
      // Spawned once the live layer is built: from then on it tracks Node's children.
      const child = ChildProcess.spawn("true", [], { stdio: "ignore" })
      const exitCode = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      const pid = child.pid
      assert.isDefined(pid)
      // One synchronous stretch: libuv gets no turn to wait for the child between the scan and the reaping.
      const seen = yield* Effect.sync(() => {
        const zombie = blockUntilZombie(pid!, 5_000)
        const run = Effect.runSyncWith(context)
        const listed = run(Syscalls.use((syscalls) => syscalls.zombieChildren))
        const reaped = run(Pid1.reapZombies).map((reapedChild) => reapedChild.pid)
        return { zombie, listed, reaped, stateAfter: processState(pid!) }
      })
      assert.isTrue(seen.zombie, "the child became a zombie within 5 s")
      assert.include(seen.listed, pid, "the kernel lists it among the zombie children")
      assert.notInclude(seen.reaped, pid, "reapZombies did not reap it")
      assert.strictEqual(seen.stateAfter, "Z", "it is still a zombie, for libuv to wait for")
      const code = yield* Effect.promise(() => exitCode).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(code, 0)
    }).pipe(Effect.provide(Layer.live)))
})
