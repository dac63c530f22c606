/**
 * The QEMU command line of a machine, as virtrun's `command_spec.go` builds
 * it: pure, so that every flag is checked by unit tests without starting
 * QEMU.
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import { consoleLimit, kernelConsole, type Transport } from "../internal/protocol.ts"

/**
 * The virtual machine to start.
 *
 * @since 0.1.0
 * @category models
 */
export interface Machine {
  readonly kernel: string
  readonly initramfs: string
  /** MiB of memory. */
  readonly memory: number
  readonly smp: number
  readonly kvm: boolean
  readonly transport: Transport
  /** The init's arguments, after `--` on the kernel command line. */
  readonly args: ReadonlyArray<string>
  /** The QEMU binary; `qemu-system-x86_64` from PATH by default. */
  readonly qemu?: string | undefined
  /** Host directories shared over 9p. */
  readonly shares?: ReadonlyArray<NinePShare> | undefined
}

/**
 * A host directory on a `virtio-9p-pci` device, mounted in the guest by its
 * tag. `security_model=none` works for root and for other users alike (files
 * are the runner's user's); `multidevs` remaps inode numbers of a directory
 * that spans file systems (the host's root).
 *
 * @since 0.1.0
 * @category models
 */
export interface NinePShare {
  readonly tag: string
  readonly path: string
  readonly readOnly: boolean
  readonly multidevs: boolean
}

/**
 * QEMU's arguments of the 9p shares.
 *
 * @since 0.1.0
 * @category command line
 */
export const ninePArguments = (shares: ReadonlyArray<NinePShare>): ReadonlyArray<string> =>
  shares.flatMap((share, i) => [
    "-fsdev",
    [
      `local,id=fs${i},path=${escapeOptionValue(share.path)},security_model=none`,
      ...(share.readOnly ? ["readonly=on"] : []),
      ...(share.multidevs ? ["multidevs=remap"] : [])
    ].join(","),
    "-device",
    `virtio-9p-pci,fsdev=fs${i},mount_tag=${share.tag}`
  ])

/**
 * The machine cannot be described to QEMU: too many consoles for the
 * transport, or an init argument that the kernel command line cannot carry.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidMachine extends Data.TaggedError("InvalidMachine")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/**
 * The init's PATH: files added with `--add-file` first, then the guest's own.
 *
 * @since 0.1.0
 * @category constants
 */
export const guestPath = "/data:/usr/bin:/bin"

/**
 * The kernel command line: console, panic handling, the quiet flags of
 * virtrun, then the init's arguments after `--`.
 *
 * @since 0.1.0
 * @category command line
 */
export const kernelCommandLine = (machine: Machine): Effect.Effect<string, InvalidMachine> =>
  Effect.gen(function*() {
    const args: Array<string> = []
    for (const arg of machine.args) {
      if (/["\n\0]/.test(arg)) {
        return yield* new InvalidMachine({ reason: `the kernel command line cannot carry ${JSON.stringify(arg)}` })
      }
      args.push(arg === "" || /\s/.test(arg) ? `"${arg}"` : arg)
    }
    return [
      `console=${kernelConsole(machine.transport)}`,
      "panic=-1",
      "mitigations=off",
      "initcall_blacklist=ahci_pci_driver_init",
      ...(machine.smp === 1 ? ["acpi=off"] : []),
      "quiet",
      // The kernel hands parameters of the form name=value that it does not know to init as its environment.
      `PATH=${guestPath}`,
      "--",
      ...args
    ].join(" ")
  })

// QEMU's option syntax ends a value at a comma; a doubled comma is a literal one.
const escapeOptionValue = (value: string): string => value.replaceAll(",", ",,")

/**
 * Where a console goes on the host: a file QEMU writes (a path), or a unix
 * socket QEMU connects to, whose bytes the guest reads (`{ socket }`).
 *
 * @since 0.1.0
 * @category models
 */
export type ConsoleBackend = string | { readonly socket: string }

/**
 * QEMU's arguments; console N is written to the file `consoleFiles[N]`, or
 * connected to its unix socket.
 *
 * @since 0.1.0
 * @category command line
 */
export const qemuArguments = (
  machine: Machine,
  consoleFiles: ReadonlyArray<ConsoleBackend>
): Effect.Effect<ReadonlyArray<string>, InvalidMachine> =>
  Effect.gen(function*() {
    const max = consoleLimit[machine.transport]
    if (consoleFiles.length > max) {
      return yield* new InvalidMachine({
        reason: `the ${machine.transport} transport has ${max} consoles, ${consoleFiles.length} asked`
      })
    }
    const consoles = consoleFiles.flatMap((file, i) => {
      const chardev = typeof file === "string"
        ? ["-chardev", `file,id=con${i},path=${escapeOptionValue(file)}`]
        : ["-chardev", `socket,id=con${i},path=${escapeOptionValue(file.socket)}`]
      return machine.transport === "serial"
        ? [...chardev, "-serial", `chardev:con${i}`]
        : [...chardev, "-device", `virtconsole,chardev=con${i}`]
    })
    return [
      "-kernel",
      machine.kernel,
      "-initrd",
      machine.initramfs,
      "-machine",
      "q35",
      "-m",
      String(machine.memory),
      "-smp",
      String(machine.smp),
      ...(machine.kvm ? ["-enable-kvm", "-cpu", "host"] : ["-accel", "tcg"]),
      "-display",
      "none",
      "-monitor",
      "none",
      "-no-reboot",
      "-nodefaults",
      "-no-user-config",
      ...(machine.transport === "virtio" ? ["-device", `virtio-serial-pci,max_ports=${max}`] : []),
      ...consoles,
      ...ninePArguments(machine.shares ?? []),
      "-append",
      yield* kernelCommandLine(machine)
    ]
  })

/**
 * QEMU's arguments for `Qemu.probeKvm`: the kernel alone with KVM, no
 * initramfs and no console; a working KVM ends it in the "cannot mount root"
 * panic within a second or so.
 *
 * @since 0.1.0
 * @category command line
 */
export const kvmProbeArguments = (kernel: string): ReadonlyArray<string> => [
  "-kernel",
  kernel,
  "-machine",
  "q35",
  "-m",
  "256",
  "-enable-kvm",
  "-cpu",
  "host",
  "-display",
  "none",
  "-monitor",
  "none",
  "-no-reboot",
  "-nodefaults",
  "-no-user-config",
  "-append",
  "panic=-1 acpi=off quiet"
]
