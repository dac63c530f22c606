import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
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

describe("the QEMU command line", () => {
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

  it.effect("connects an input console to its unix socket, a serial port or a virtio console", () =>
    Effect.gen(function*() {
      const virtio = yield* QemuCommand.qemuArguments({ ...machine, transport: "virtio" }, ["/t/c0", {
        socket: "/t/in,put.sock"
      }])
      assert.include(
        virtio.join(" "),
        "-chardev socket,id=con1,path=/t/in,,put.sock -device virtconsole,chardev=con1"
      )
      const serial = yield* QemuCommand.qemuArguments(machine, ["/t/c0", { socket: "/t/in.sock" }])
      assert.include(serial.join(" "), "-chardev socket,id=con1,path=/t/in.sock -serial chardev:con1")
    }))

  it.effect("refuses more consoles than the transport has, and arguments the kernel cannot carry", () =>
    Effect.gen(function*() {
      const tooMany = yield* Effect.flip(QemuCommand.qemuArguments(machine, ["0", "1", "2", "3", "4"]))
      assert.strictEqual(tooMany.reason, "the serial transport has 4 consoles, 5 asked")
      const quote = yield* Effect.flip(QemuCommand.kernelCommandLine({ ...machine, args: ["say \"hi\""] }))
      assert.instanceOf(quote, QemuCommand.InvalidMachine)
    }))

  it("probes KVM with the kernel alone: KVM, no initramfs, no console", () => {
    const args = QemuCommand.kvmProbeArguments("/k/vmlinuz")
    assert.include(args.join(" "), "-kernel /k/vmlinuz")
    assert.include(args.join(" "), "-enable-kvm -cpu host")
    assert.notInclude(args, "-initrd")
    assert.notInclude(args, "-chardev")
  })

  it("adds one virtio-9p-pci device per share, read-only and remapped as asked", () => {
    assert.deepStrictEqual(
      QemuCommand.ninePArguments([
        { tag: "share0", path: "/home/me/a,b", readOnly: false, multidevs: false },
        { tag: "hostroot", path: "/", readOnly: true, multidevs: true }
      ]),
      [
        "-fsdev",
        "local,id=fs0,path=/home/me/a,,b,security_model=none",
        "-device",
        "virtio-9p-pci,fsdev=fs0,mount_tag=share0",
        "-fsdev",
        "local,id=fs1,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device",
        "virtio-9p-pci,fsdev=fs1,mount_tag=hostroot"
      ]
    )
  })
})
