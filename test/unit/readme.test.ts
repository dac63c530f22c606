// The README's test example, word for word, so it keeps working.
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { Layer, Mount } from "effect-sysinit"

it.effect("mounts tmpfs", () =>
  Effect.gen(function*() {
    const kernel = yield* Layer.MemoryKernel
    kernel.fail({ call: "mount", errno: "EPERM", path: "/sys/kernel/debug" })
    yield* Mount.withMountPoints(Mount.systemMountPoints())
    assert.strictEqual(kernel.state.mounts.length, 10)
  }).pipe(Effect.provide(Layer.memory())))
