/**
 * A run under KVM that fails says what to pass: a stand-in for QEMU that
 * aborts or hangs, so that nothing boots and no KVM is needed.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, FileSystem } from "effect"
import { join } from "node:path"
import * as Qemu from "../../../src/runner/machine/Qemu.ts"
import * as Runner from "../../../src/runner/Runner.ts"

const init = join(import.meta.dirname, "../../vm/inits/colours.ts")

/** Runs the init with QEMU replaced by a shell script, KVM forced on or off. */
const runWith = (script: string, kvm: boolean, warn?: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped()
    const qemu = join(dir, "qemu")
    yield* fs.writeFileString(qemu, `#!/bin/sh\n${script}\n`)
    yield* fs.chmod(qemu, 0o755)
    // Looks like a bzImage ("HdrS" at 0x202), which is all the runner checks before QEMU.
    const kernel = join(dir, "vmlinuz")
    const image = new Uint8Array(0x400)
    image.set(new TextEncoder().encode("HdrS"), 0x202)
    yield* fs.writeFile(kernel, image)
    return yield* Runner.run({
      init,
      kernel: { image: kernel, moduleTree: undefined },
      qemu,
      kvm,
      startup: "bundle",
      stdout: () => Effect.void,
      console: () => Effect.void,
      warn
    })
  })

const aborts = "echo 'qemu-system-x86_64: kvm_buf_set_msrs: Assertion failed.' >&2; kill -ABRT $$"

describe("what a run under KVM says when it fails", () => {
  it.live("QEMU killed by a signal under KVM: the error says so and names --no-kvm", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runWith(aborts, true))
      assert.instanceOf(error, Qemu.QemuFailed)
      assert.include(error.message, "QEMU was killed by a signal: qemu-system-x86_64: kvm_buf_set_msrs")
      assert.include(error.message, "pass --no-kvm")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.live("the same failure under TCG names no --no-kvm", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runWith(aborts, false))
      assert.instanceOf(error, Qemu.QemuFailed)
      assert.notInclude(error.message, "--no-kvm")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.live("a run under KVM that is interrupted says to pass --no-kvm", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const marker = join(yield* fs.makeTempDirectoryScoped(), "started")
      const warned: Array<string> = []
      const fiber = yield* runWith(`touch ${marker}; exec sleep 60`, true, (line) =>
        Effect.sync(() =>
          void warned.push(line)
        )).pipe(Effect.scoped, Effect.forkChild)
      // Interrupted once QEMU's stand-in runs, as by Ctrl-C.
      while (!(yield* fs.exists(marker))) yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(warned.length, 1)
      assert.include(warned[0], "interrupted; KVM was used")
      assert.include(warned[0], "--no-kvm")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)
})
