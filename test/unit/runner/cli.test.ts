import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import type { Transport } from "../../../src/internal/protocol.ts"
import type * as Architecture from "../../../src/runner/Architecture.ts"
import * as Cli from "../../../src/runner/Cli.ts"
import * as Qemu from "../../../src/runner/Qemu.ts"

describe("Cli", () => {
  const panic = "[    4.668231] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"
  const oom = "[   12.500000] Out of memory: Killed process 1 (node)"
  const exits: ReadonlyArray<readonly [string, Qemu.Outcome, number, string | undefined]> = [
    ["exit 0", Qemu.Outcome.Exited({ code: 0 }), 0, undefined],
    ["exit 3", Qemu.Outcome.Exited({ code: 3 }), 3, undefined],
    ["exit 300 is truncated and said", Qemu.Outcome.Exited({ code: 300 }), 44, "guest exit code 300, exit status 44"],
    ["kernel panic", Qemu.Outcome.KernelPanic({ line: panic }), 122, `guest error: ${panic}`],
    ["out of memory", Qemu.Outcome.OutOfMemory({ line: oom }), 123, `guest error: ${oom}`],
    ["no exit code", Qemu.Outcome.NoExitCode(), 121, "guest error: no exit code found"],
    [
      "timeout",
      Qemu.Outcome.TimedOut({ timeout: Duration.seconds(5) }),
      124,
      "guest timed out after 5s, QEMU killed"
    ]
  ]
  for (const [name, outcome, code, reason] of exits) {
    it(`exits with the guest's code or its own, and says why: ${name}`, () => {
      assert.deepStrictEqual(Cli.exitOf(outcome), { code, reason })
    })
  }

  it("a timeout under KVM says to pass --no-kvm; under TCG it does not", () => {
    const timedOut = Qemu.Outcome.TimedOut({ timeout: Duration.seconds(5) })
    assert.include(Cli.exitOf(timedOut, true).reason, "pass --no-kvm")
    assert.notInclude(Cli.exitOf(timedOut, false).reason, "--no-kvm")
    assert.strictEqual(Cli.exitOf(timedOut, true).code, 124)
  })

  const transports: ReadonlyArray<readonly [string, ReadonlyArray<string>, Option.Option<Transport>]> = [
    ["none: the architecture's own", [], Option.none()],
    ["serial", ["serial"], Option.some("serial")],
    ["virtio", ["virtio"], Option.some("virtio")],
    ["pci, virtrun's name for virtio", ["pci"], Option.some("virtio")]
  ]
  for (const [name, values, transport] of transports) {
    it.effect(`reads --transport: ${name}`, () =>
      Effect.gen(function*() {
        const [, parsed] = yield* Cli.transportFlag.parse({ arguments: [], flags: { transport: values } })
        assert.deepStrictEqual(parsed, transport)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  const arches: ReadonlyArray<readonly [ReadonlyArray<string>, Architecture.Architecture]> = [
    [[], "x86_64"],
    [["x86_64"], "x86_64"],
    [["amd64"], "x86_64"],
    [["arm64"], "aarch64"],
    [["aarch64"], "aarch64"],
    [["ARM64"], "aarch64"]
  ]
  for (const [values, arch] of arches) {
    it.effect(`reads --arch ${values.join("") || "(none)"} as ${arch}`, () =>
      Effect.gen(function*() {
        const [, parsed] = yield* Cli.archFlag.parse({ arguments: [], flags: { arch: values } })
        assert.strictEqual(parsed.name, arch)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  it.effect("refuses an --arch it does not know, naming the ones it knows", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Cli.archFlag.parse({ arguments: [], flags: { arch: ["riscv64"] } }))
      assert.include(String(error), "riscv64")
      assert.include(String(error), "aarch64")
    }).pipe(Effect.provide(NodeServices.layer)))

  const kvmModes: ReadonlyArray<readonly [string, Record<string, ReadonlyArray<string>>, Option.Option<boolean>]> = [
    ["no flag: the probe decides", {}, Option.none()],
    ["--kvm", { kvm: ["true"] }, Option.some(true)],
    ["--no-kvm", { kvm: ["false"] }, Option.some(false)]
  ]
  for (const [name, flags, mode] of kvmModes) {
    it.effect(`reads ${name}`, () =>
      Effect.gen(function*() {
        const [, parsed] = yield* Cli.kvmFlag.parse({ arguments: [], flags })
        assert.deepStrictEqual(parsed, mode)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  it.effect("refuses a --transport it does not know", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Cli.transportFlag.parse({ arguments: [], flags: { transport: ["usb"] } }))
      assert.include(String(error), "usb")
    }).pipe(Effect.provide(NodeServices.layer)))

  it("reads timeouts in seconds, milliseconds, minutes and hours", () => {
    assert.deepStrictEqual(Cli.parseTimeout("90"), Option.some(Duration.seconds(90)))
    assert.deepStrictEqual(Cli.parseTimeout("1500ms"), Option.some(Duration.millis(1500)))
    assert.deepStrictEqual(Cli.parseTimeout("2m"), Option.some(Duration.minutes(2)))
    assert.deepStrictEqual(Cli.parseTimeout("1h"), Option.some(Duration.hours(1)))
    assert.deepStrictEqual(Cli.parseTimeout("soon"), Option.none())
  })
})
