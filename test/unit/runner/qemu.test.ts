import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import type { Transport } from "../../../src/internal/protocol.ts"
import * as Cli from "../../../src/runner/Cli.ts"
import * as ConsoleLog from "../../../src/runner/consoleLog.ts"
import * as Qemu from "../../../src/runner/Qemu.ts"
import * as QemuCommand from "../../../src/runner/qemuCommand.ts"

const machine: QemuCommand.Machine = {
  kernel: "/k/vmlinuz",
  initramfs: "/i/initramfs.cpio",
  memory: 512,
  smp: 1,
  kvm: false,
  transport: "serial",
  args: []
}

describe("Qemu", () => {
  const lines: ReadonlyArray<readonly [string, string, Qemu.Outcome | undefined]> = [
    ["exit code 0", "VIRTRUN_EXIT_CODE: 0", Qemu.Outcome.Exited({ code: 0 })],
    ["exit code above 255", "VIRTRUN_EXIT_CODE: 300\r", Qemu.Outcome.Exited({ code: 300 })],
    ["exit code inside a line", "say VIRTRUN_EXIT_CODE: 0", undefined],
    ["exit code with a tail", "VIRTRUN_EXIT_CODE: 0 or so", undefined],
    [
      "kernel panic",
      "[    4.668231] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000",
      Qemu.Outcome.KernelPanic({
        line: "[    4.668231] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"
      })
    ],
    [
      "out of memory",
      "[   12.5] Out of memory: Killed process 1 (node)",
      Qemu.Outcome.OutOfMemory({ line: "[   12.5] Out of memory: Killed process 1 (node)" })
    ],
    ["any other line", "[    6.168324] reboot: Restarting system", undefined]
  ]
  for (const [name, line, outcome] of lines) {
    it(`classifies console 0 lines: ${name}`, () => {
      assert.deepStrictEqual(ConsoleLog.classifyLine(line), outcome)
    })
  }

  it.effect("starts QEMU as virtrun does, one file chardev per serial console", () =>
    Effect.gen(function*() {
      const args = yield* QemuCommand.qemuArguments({ ...machine, args: ["a", "b c", ""] }, [
        "/t/console0",
        "/t/console1",
        "/out/a,b"
      ])
      assert.deepStrictEqual(args, [
        "-kernel",
        "/k/vmlinuz",
        "-initrd",
        "/i/initramfs.cpio",
        "-machine",
        "q35",
        "-m",
        "512",
        "-smp",
        "1",
        "-accel",
        "tcg",
        "-display",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-nodefaults",
        "-no-user-config",
        "-chardev",
        "file,id=con0,path=/t/console0",
        "-serial",
        "chardev:con0",
        "-chardev",
        "file,id=con1,path=/t/console1",
        "-serial",
        "chardev:con1",
        "-chardev",
        "file,id=con2,path=/out/a,,b",
        "-serial",
        "chardev:con2",
        "-append",
        "console=ttyS0 panic=-1 mitigations=off initcall_blacklist=ahci_pci_driver_init acpi=off quiet PATH=/data:/usr/bin:/bin -- a \"b c\" \"\""
      ])
    }))

  it.effect("puts virtio consoles on a virtio-serial-pci device, keeps ACPI with several CPUs, uses KVM when asked", () =>
    Effect.gen(function*() {
      const args = yield* QemuCommand.qemuArguments({ ...machine, transport: "virtio", smp: 2, kvm: true }, [
        "/t/c0",
        "/t/c1"
      ])
      const joined = args.join(" ")
      assert.include(joined, "-enable-kvm -cpu host")
      assert.include(joined, "-device virtio-serial-pci,max_ports=8")
      assert.include(joined, "-chardev file,id=con0,path=/t/c0 -device virtconsole,chardev=con0")
      assert.include(joined, "-chardev file,id=con1,path=/t/c1 -device virtconsole,chardev=con1")
      assert.strictEqual(
        args.at(-1),
        "console=hvc0 panic=-1 mitigations=off initcall_blacklist=ahci_pci_driver_init quiet PATH=/data:/usr/bin:/bin --"
      )
    }))

  it.effect("refuses more consoles than the transport has, and arguments the kernel cannot carry", () =>
    Effect.gen(function*() {
      const tooMany = yield* Effect.flip(QemuCommand.qemuArguments(machine, ["0", "1", "2", "3", "4"]))
      assert.strictEqual(tooMany.reason, "the serial transport has 4 consoles, 5 asked")
      const quote = yield* Effect.flip(QemuCommand.kernelCommandLine({ ...machine, args: ["say \"hi\""] }))
      assert.instanceOf(quote, QemuCommand.InvalidMachine)
    }))
})

describe("Cli", () => {
  const exits: ReadonlyArray<readonly [string, Qemu.Outcome, number, boolean]> = [
    ["exit 0", Qemu.Outcome.Exited({ code: 0 }), 0, false],
    ["exit 3", Qemu.Outcome.Exited({ code: 3 }), 3, false],
    ["exit 300 is truncated and said", Qemu.Outcome.Exited({ code: 300 }), 44, true],
    ["kernel panic", Qemu.Outcome.KernelPanic({ line: "[ 1.0] Kernel panic - not syncing: x" }), 122, true],
    ["out of memory", Qemu.Outcome.OutOfMemory({ line: "[ 1.0] Out of memory: x" }), 123, true],
    ["no exit code", Qemu.Outcome.NoExitCode(), 121, true],
    ["timeout", Qemu.Outcome.TimedOut({ timeout: Duration.seconds(5) }), 124, true]
  ]
  for (const [name, outcome, code, says] of exits) {
    it(`exits with the guest's code or its own: ${name}`, () => {
      const exit = Cli.exitOf(outcome)
      assert.strictEqual(exit.code, code)
      assert.strictEqual(exit.reason !== undefined, says)
    })
  }

  const transports: ReadonlyArray<readonly [string, ReadonlyArray<string>, Transport]> = [
    ["serial by default", [], "serial"],
    ["serial", ["serial"], "serial"],
    ["virtio", ["virtio"], "virtio"],
    ["pci, virtrun's name for virtio", ["pci"], "virtio"]
  ]
  for (const [name, values, transport] of transports) {
    it.effect(`reads --transport: ${name}`, () =>
      Effect.gen(function*() {
        const [, parsed] = yield* Cli.transportFlag.parse({ arguments: [], flags: { transport: values } })
        assert.strictEqual(parsed, transport)
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
