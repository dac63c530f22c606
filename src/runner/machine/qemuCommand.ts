/**
 * The QEMU command line of a machine, as virtrun's `command_spec.go` builds
 * it: pure, so that every flag is checked by unit tests without starting
 * QEMU.
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import { consoleLimit, type Transport } from "../../protocol/consoles.ts"
import * as Architecture from "./Architecture.ts"

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
  /** Environment variables of the init besides `PATH`, on the kernel command line. */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** The guest's architecture; x86_64 by default. */
  readonly arch?: Architecture.Facts | undefined
  /** The QEMU binary; the architecture's (`qemu-system-x86_64`, …) from PATH by default. */
  readonly qemu?: string | undefined
  /** Host directories shared over 9p. */
  readonly shares?: ReadonlyArray<NinePShare> | undefined
  /**
   * The guest's RAM as a file (`memory-backend-file`): written through
   * (`shared`) while a first boot runs up to its ready point, so that the
   * file is the RAM of the saved state; mapped privately by a restore, which
   * then reads only the pages the guest touches and changes none of them.
   */
  readonly ramFile?: { readonly path: string; readonly shared: boolean } | undefined
  /** The unix socket of QEMU's monitor (QMP), which QEMU listens on. */
  readonly qmp?: string | undefined
  /** Waits for a saved state over QMP instead of booting (`-incoming defer`). */
  readonly incoming?: boolean | undefined
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
 * The QEMU binary that boots the machine.
 *
 * @since 0.1.0
 * @category command line
 */
export const qemuBinary = (machine: Pick<Machine, "arch" | "qemu">): string =>
  machine.qemu ?? (machine.arch ?? Architecture.all.x86_64).qemu

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
    const arch = machine.arch ?? Architecture.all.x86_64
    const args: Array<string> = []
    for (const arg of machine.args) {
      if (/["\n\0]/.test(arg)) {
        return yield* new InvalidMachine({ reason: `the kernel command line cannot carry ${JSON.stringify(arg)}` })
      }
      args.push(arg === "" || /\s/.test(arg) ? `"${arg}"` : arg)
    }
    const environment: Array<string> = []
    for (const [name, value] of Object.entries(machine.environment ?? {})) {
      // The kernel takes a name with a dot for a module's parameter, and splits at white space.
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || /[\s"\0]/.test(value)) {
        return yield* new InvalidMachine({
          reason: `the kernel command line cannot carry the variable ${JSON.stringify(`${name}=${value}`)}`
        })
      }
      environment.push(`${name}=${value}`)
    }
    return [
      `console=${arch.kernelConsole(machine.transport)}`,
      "panic=-1",
      "mitigations=off",
      // Seed the random pool from the CPU's generator where it has one (RDRAND, RNDR), whatever the kernel's
      // config says: node's start-up waits for the pool (see Architecture's tcgCpu).
      "random.trust_cpu=on",
      "initcall_blacklist=ahci_pci_driver_init",
      ...(machine.smp === 1 ? ["acpi=off"] : []),
      "quiet",
      // The kernel hands parameters of the form name=value that it does not know to init as its environment.
      `PATH=${guestPath}`,
      ...environment,
      "--",
      ...args
    ].join(" ")
  })

// QEMU's option syntax ends a value at a comma; a doubled comma is a literal one.
const escapeOptionValue = (value: string): string => value.replaceAll(",", ",,")

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

/** What every machine of ours starts with: the kernel, machine, memory, accelerator, and none of QEMU's defaults. */
const bareMachine = (
  arch: Architecture.Facts,
  kernel: string,
  memory: number,
  kvm: boolean,
  ramFile?: Machine["ramFile"]
): ReadonlyArray<string> => [
  "-kernel",
  kernel,
  "-machine",
  ramFile === undefined ? arch.machine : `${arch.machine},memory-backend=ram0`,
  "-m",
  String(memory),
  ...(ramFile === undefined ? [] : [
    "-object",
    `memory-backend-file,id=ram0,size=${memory}M,mem-path=${escapeOptionValue(ramFile.path)},share=${
      ramFile.shared ? "on" : "off"
    }`
  ]),
  ...(kvm
    ? ["-enable-kvm", "-cpu", "host"]
    : ["-accel", "tcg", ...(arch.tcgCpu === undefined ? [] : ["-cpu", arch.tcgCpu])]),
  "-display",
  "none",
  "-monitor",
  "none",
  "-no-reboot",
  "-nodefaults",
  "-no-user-config"
]

/**
 * Where a console goes on the host: a file QEMU writes (a path), a unix
 * socket QEMU connects to, whose bytes the guest reads (`{ socket }`), or
 * nothing (`{ null: true }`: what the guest writes is dropped, it reads
 * nothing).
 *
 * @since 0.1.0
 * @category models
 */
export type ConsoleBackend = string | { readonly socket: string } | { readonly null: true }

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
    const arch = machine.arch ?? Architecture.all.x86_64
    if (!arch.transports.includes(machine.transport)) {
      return yield* new InvalidMachine({
        reason: `${arch.name} guests have no ${machine.transport} transport (${arch.transports.join(" or ")})`
      })
    }
    const max = consoleLimit[machine.transport]
    if (consoleFiles.length > max) {
      return yield* new InvalidMachine({
        reason: `the ${machine.transport} transport has ${max} consoles, ${consoleFiles.length} asked`
      })
    }
    const consoles = consoleFiles.flatMap((file, i) => {
      const chardev = typeof file === "string"
        ? ["-chardev", `file,id=con${i},path=${escapeOptionValue(file)}`]
        : "socket" in file
        ? ["-chardev", `socket,id=con${i},path=${escapeOptionValue(file.socket)}`]
        : ["-chardev", `null,id=con${i}`]
      if (machine.transport === "serial") return [...chardev, "-serial", `chardev:con${i}`]
      if (i > 0 || !arch.serialConsoleZero) return [...chardev, "-device", `virtconsole,chardev=con${i}`]
      // Console 0 on the serial port; virtio console 0 is there, unused, so that console N is hvc<N>.
      return [...chardev, "-serial", "chardev:con0", "-chardev", "null,id=hvc0", "-device", "virtconsole,chardev=hvc0"]
    })
    return [
      ...bareMachine(arch, machine.kernel, machine.memory, machine.kvm, machine.ramFile),
      "-initrd",
      machine.initramfs,
      "-smp",
      String(machine.smp),
      ...(machine.transport === "virtio" ? ["-device", `${arch.virtioSerialDevice},max_ports=${max}`] : []),
      ...consoles,
      ...ninePArguments(machine.shares ?? []),
      // A new generation ID at each restore: the guest's kernel reseeds its random generator on it.
      ...(machine.ramFile !== undefined && arch.vmgenid ? ["-device", "vmgenid,guid=auto"] : []),
      ...(machine.qmp === undefined ? [] : ["-qmp", `unix:${escapeOptionValue(machine.qmp)},server=on,wait=off`]),
      ...(machine.incoming === true ? ["-incoming", "defer"] : []),
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
export const kvmProbeArguments = (
  kernel: string,
  arch: Architecture.Facts = Architecture.all.x86_64
): ReadonlyArray<string> => [...bareMachine(arch, kernel, 256, true), "-append", "panic=-1 acpi=off quiet"]
