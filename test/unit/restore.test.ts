import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import { MemoryKernel } from "../../src/Layer.ts"
import * as Mount from "../../src/Mount.ts"
import { encodeFrame } from "../../src/protocol/frames.ts"
import * as Restore from "../../src/Restore.ts"
import { syscallError, withKernel } from "./helpers.ts"

const control = "/dev/hvc3"
const machine = {
  consoles: { transport: "virtio" as const, ports: [0, 1, 2, 3] },
  env: { EFFECT_SYSINIT_CONTROL: control }
}
const message = (nonce: string) => ({ nonce, time: Date.UTC(2026, 11, 4, 12), entropy: "AAECAwQFBgc=", run: { n: 1 } })

describe("Restore", () => {
  it.effect("awaitRun says it is ready, takes the first whole message, freshens the machine, then says the run starts", () =>
    Effect.gen(function*() {
      yield* Mount.mountAll(Mount.essentialMountPoints())
      const kernel = yield* MemoryKernel
      const waiting = yield* Effect.forkChild(Restore.awaitRun())
      yield* Effect.yieldNow
      assert.strictEqual(kernel.state.stderr, "EFFECT_SYSINIT_READY\n", "ready before any message")
      const first = Restore.encodeRunMessage(message("first"))
      // Noise, a frame whose payload is no run message, the first message in two pieces, a second message.
      kernel.sendToConsole(control, new TextEncoder().encode("noise VTPF"))
      kernel.sendToConsole(control, encodeFrame(new TextEncoder().encode("{\"not\":\"a run\"}")))
      kernel.sendToConsole(control, first.subarray(0, 7))
      yield* Effect.yieldNow
      kernel.sendToConsole(control, first.subarray(7))
      kernel.sendToConsole(control, Restore.encodeRunMessage(message("second")))
      const received = yield* Fiber.join(waiting)
      assert.strictEqual(received.nonce, "first")
      assert.deepStrictEqual(received.run, { n: 1 })
      assert.strictEqual(kernel.state.clock, Date.UTC(2026, 11, 4, 12))
      assert.strictEqual(kernel.state.entropyBytes, 8)
      assert.strictEqual(kernel.state.reseeds, 1)
      assert.strictEqual(kernel.state.stderr, "EFFECT_SYSINIT_READY\nEFFECT_SYSINIT_RUN first\n")
      const calls = kernel.calls.map((call) => call.call)
      assert.isBelow(calls.lastIndexOf("addEntropy"), calls.lastIndexOf("writeStderr"), "fresh before it says so")
      const console = [...kernel.state.consoles.values()].find((state) => state.device === control)
      assert.isTrue(console?.raw, "read in raw mode")
      assert.isFalse(console?.open, "closed after the message")
    }).pipe(withKernel(machine)))

  it.effect("awaitRun fails with ControlConsoleMissing when the environment names no control console", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Restore.awaitRun())
      assert.strictEqual(error._tag, "ControlConsoleMissing")
      assert.include(error.message, "EFFECT_SYSINIT_CONTROL")
    }).pipe(withKernel()))

  it.effect("awaitRun of a console the host did not connect is ENODEV from open, before saying it is ready", () =>
    Effect.gen(function*() {
      yield* Mount.mountAll(Mount.essentialMountPoints())
      const error = yield* syscallError(Restore.awaitRun({ device: "/dev/hvc5" }))
      assert.strictEqual(error.errno, "ENODEV")
      assert.strictEqual((yield* MemoryKernel).state.stderr, "")
    }).pipe(withKernel(machine)))

  it.effect("freshen needs /dev/urandom: before /dev is mounted it is ENOENT", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Restore.freshen(message("n")))
      assert.strictEqual(error.errno, "ENOENT")
      assert.strictEqual(error.path, "/dev/urandom")
    }).pipe(withKernel()))

  it.effect("followControl hands each window size sent after the run to its handler, skipping run messages sent again", () =>
    Effect.gen(function*() {
      yield* Mount.mountAll(Mount.essentialMountPoints())
      const kernel = yield* MemoryKernel
      const sizes: Array<string> = []
      const scope = yield* Scope.make()
      yield* Restore.followControl((size) => Effect.sync(() => sizes.push(`${size.rows}x${size.columns}`))).pipe(
        Scope.provide(scope)
      )
      kernel.sendToConsole(control, Restore.encodeRunMessage(message("sent again")))
      const resized = Restore.encodeWindowSizeMessage({ rows: 30, columns: 90 })
      kernel.sendToConsole(control, resized.subarray(0, 5))
      yield* TestClock.adjust(Restore.controlPollInterval)
      assert.deepStrictEqual(sizes, [], "half a frame is no message yet")
      kernel.sendToConsole(control, resized.subarray(5))
      kernel.sendToConsole(control, Restore.encodeWindowSizeMessage({ rows: 31, columns: 91 }))
      yield* TestClock.adjust(Restore.controlPollInterval)
      assert.deepStrictEqual(sizes, ["30x90", "31x91"])
      const follower = [...kernel.state.consoles.values()].find((state) => state.device === control)
      assert.isTrue(follower?.open)
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(follower?.open, "closed with the scope")
    }).pipe(withKernel(machine)))

  it.effect("followControl follows nothing when the environment names no control console", () =>
    Effect.gen(function*() {
      yield* Restore.followControl(() => Effect.void)
      assert.deepStrictEqual((yield* MemoryKernel).calls.map((call) => call.call), ["getEnv"])
    }).pipe(Effect.scoped, withKernel()))
})
