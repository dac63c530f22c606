import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { LiveKernelUnavailable, make } from "../../src/kernels/liveKernel.ts"

const original = { platform: process.platform, arch: process.arch }
const pretend = (key: "platform" | "arch", value: string) =>
  Object.defineProperty(process, key, { value, configurable: true })

describe("the live kernel where it cannot run", () => {
  afterEach(() => {
    pretend("platform", original.platform)
    pretend("arch", original.arch)
  })

  it.effect("on a host that is not Linux, building it fails with LiveKernelUnavailable", () =>
    Effect.gen(function*() {
      pretend("platform", "darwin")
      const error = yield* Effect.flip(make)
      assert.instanceOf(error, LiveKernelUnavailable)
      assert.include(error.message, "darwin, not Linux")
    }))

  it.effect("on an architecture without a syscall table, building it fails with LiveKernelUnavailable", () =>
    Effect.gen(function*() {
      pretend("arch", "s390x")
      const error = yield* Effect.flip(make)
      assert.instanceOf(error, LiveKernelUnavailable)
      assert.include(error.message, "s390x")
    }))

  it.effect("on this Linux host it builds, and answers for this process", () =>
    Effect.gen(function*() {
      const syscalls = yield* make
      assert.strictEqual(yield* syscalls.getpid, process.pid)
    }))
})
