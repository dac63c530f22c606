import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"
import * as QemuCommand from "../../../src/runner/machine/qemuCommand.ts"

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
        "-machine",
        "q35",
        "-m",
        "512",
        "-accel",
        "tcg",
        "-cpu",
        "qemu64,+rdrand",
        "-display",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-nodefaults",
        "-no-user-config",
        "-initrd",
        "/i/initramfs.cpio",
        "-smp",
        "1",
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
        "console=ttyS0 panic=-1 mitigations=off random.trust_cpu=on initcall_blacklist=ahci_pci_driver_init acpi=off quiet PATH=/data:/usr/bin:/bin -- a \"b c\" \"\""
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
        "console=hvc0 panic=-1 mitigations=off random.trust_cpu=on initcall_blacklist=ahci_pci_driver_init quiet PATH=/data:/usr/bin:/bin --"
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

  it.effect("passes the init's environment after PATH, and refuses a variable the kernel would not pass on", () =>
    Effect.gen(function*() {
      const line = yield* QemuCommand.kernelCommandLine({ ...machine, environment: { NO_COLOR: "1" } })
      assert.include(line, "PATH=/data:/usr/bin:/bin NO_COLOR=1 --")
      for (const environment of [{ "a.b": "1" }, { A: "x y" }, { "": "1" }]) {
        const error = yield* Effect.flip(QemuCommand.kernelCommandLine({ ...machine, environment }))
        assert.instanceOf(error, QemuCommand.InvalidMachine)
      }
    }))

  it.effect("boots arm64 on the virt machine: console 0 on the PL011, consoles 1… on virtio-mmio from hvc1 on", () =>
    Effect.gen(function*() {
      const arm64 = { ...machine, arch: Architecture.all.aarch64, transport: "virtio" as const }
      const args = yield* QemuCommand.qemuArguments(arm64, ["/t/c0", "/t/c1", "/t/c2"])
      const joined = args.join(" ")
      assert.strictEqual(QemuCommand.qemuBinary(arm64), "qemu-system-aarch64")
      assert.include(joined, "-machine virt ")
      assert.include(joined, "-accel tcg -cpu cortex-a57")
      assert.include(joined, "-device virtio-serial-device,max_ports=8")
      assert.notInclude(joined, "virtio-serial-pci")
      // The one serial port carries console 0; virtio console 0 is a null placeholder, so console N is hvc<N>.
      assert.include(
        joined,
        "-chardev file,id=con0,path=/t/c0 -serial chardev:con0 -chardev null,id=hvc0 -device virtconsole,chardev=hvc0 " +
          "-chardev file,id=con1,path=/t/c1 -device virtconsole,chardev=con1 " +
          "-chardev file,id=con2,path=/t/c2 -device virtconsole,chardev=con2"
      )
      assert.match(args.at(-1)!, /^console=ttyAMA0 /)
    }))

  it.effect("refuses the serial transport for arm64, whose virt machine has one serial port", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        QemuCommand.qemuArguments({ ...machine, arch: Architecture.all.aarch64 }, ["/t/c0", "/t/c1"])
      )
      assert.strictEqual(error.reason, "aarch64 guests have no serial transport (virtio)")
    }))

  it("names the QEMU binary of the architecture unless one is given", () => {
    assert.strictEqual(QemuCommand.qemuBinary(machine), "qemu-system-x86_64")
    assert.strictEqual(QemuCommand.qemuBinary({ arch: Architecture.all.aarch64, qemu: "/q" }), "/q")
  })

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
