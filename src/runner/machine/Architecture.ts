/**
 * The guest architectures the runner boots, and what differs between them:
 * QEMU's binary and machine, the kernel console, the virtio-serial device,
 * Debian's and Node's names, the loader's directories and the modules that
 * the consoles need. One table, so that nothing else asks "which
 * architecture?".
 *
 * @since 0.1.0
 */
import { Option } from "effect"
import { kernelConsole, type Transport } from "../../protocol/consoles.ts"

/**
 * A guest architecture, by the kernel's name for it (`uname -m`).
 *
 * @since 0.1.0
 * @category models
 */
export type Architecture = "x86_64" | "aarch64"

/**
 * What the runner needs to know of an architecture.
 *
 * @since 0.1.0
 * @category models
 */
export interface Facts {
  readonly name: Architecture
  /** Debian's name: the kernel package (`linux-image-<debian>`), the libraries (`libc6:<debian>`). */
  readonly debian: "amd64" | "arm64"
  /** Node's name (`process.arch`): `node-linux-<node>`, koffi's `linux_<node>`. */
  readonly node: "x64" | "arm64"
  /** The ELF `e_machine` of its programs. */
  readonly elfMachine: number
  readonly qemu: string
  /** The Debian package that has `qemu`. */
  readonly qemuPackage: string
  readonly machine: string
  /** `-cpu` under TCG; QEMU's default when undefined. */
  readonly tcgCpu: string | undefined
  /** The transport when none is asked for. */
  readonly defaultTransport: Transport
  /** The transports it can have: arm64's virt machine has one serial port, so host pipes need virtio. */
  readonly transports: ReadonlyArray<Transport>
  /** `console=` on the kernel command line: console 0. */
  readonly kernelConsole: (transport: Transport) => string
  /**
   * Console 0 is a serial port also when the other consoles are virtio ones:
   * QEMU then gives virtio console 0 (`hvc0`) a null backend, so that
   * console N stays `hvc<N>` in the guest.
   */
  readonly serialConsoleZero: boolean
  /** Whether QEMU gives the machine a VM generation ID device (ACPI `vmgenid`), which tells a restored kernel to reseed. */
  readonly vmgenid: boolean
  /** QEMU's virtio-serial device for the virtio transport. */
  readonly virtioSerialDevice: string
  /** The modules whose drivers give the transport's consoles (with what they need, from the kernel's tree). */
  readonly transportModules: Readonly<Record<Transport, ReadonlyArray<string>>>
  /** Directories where its glibc loader looks for libraries (Debian's multiarch ones first). */
  readonly librarySearchPath: ReadonlyArray<string>
}

const x86_64: Facts = {
  name: "x86_64",
  debian: "amd64",
  node: "x64",
  elfMachine: 62,
  qemu: "qemu-system-x86_64",
  qemuPackage: "qemu-system-x86",
  machine: "q35",
  // QEMU's default CPU with RDRAND, which TCG emulates: the kernel seeds its random pool from it at boot.
  // Without it, node's first getrandom(2) at start-up waits while the kernel gathers timer jitter,
  // about 1.2 s under TCG here.
  tcgCpu: "qemu64,+rdrand",
  defaultTransport: "serial",
  transports: ["serial", "virtio"],
  kernelConsole,
  serialConsoleZero: false,
  vmgenid: true,
  virtioSerialDevice: "virtio-serial-pci",
  transportModules: { serial: [], virtio: ["virtio_console", "virtio_pci"] },
  librarySearchPath: ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]
}

const aarch64: Facts = {
  name: "aarch64",
  debian: "arm64",
  node: "arm64",
  elfMachine: 183,
  qemu: "qemu-system-aarch64",
  qemuPackage: "qemu-system-arm",
  machine: "virt",
  // QEMU's "max" emulates pointer authentication with QARMA (a busybox boot: 6.85 s, against 1.42 s);
  // "max,pauth-impdef=on" avoids that, yet booted the demo here in 7.3 s (median of 3), cortex-a57 in 6.4 s.
  tcgCpu: "cortex-a57",
  defaultTransport: "virtio",
  transports: ["virtio"],
  kernelConsole: () => "ttyAMA0",
  serialConsoleZero: true,
  // virt has ACPI only with UEFI firmware; a kernel booted directly reads a device tree.
  vmgenid: false,
  virtioSerialDevice: "virtio-serial-device",
  transportModules: { serial: [], virtio: ["virtio_console", "virtio_mmio"] },
  librarySearchPath: [
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib"
  ]
}

/**
 * Every architecture the runner boots.
 *
 * @since 0.1.0
 * @category constants
 */
export const all: Readonly<Record<Architecture, Facts>> = { x86_64, aarch64 }

const spellings: ReadonlyArray<readonly [string, Architecture]> = [
  ["x86_64", "x86_64"],
  ["amd64", "x86_64"],
  ["x64", "x86_64"],
  ["aarch64", "aarch64"],
  ["arm64", "aarch64"]
]

/**
 * The names `--arch` accepts: the kernel's, Debian's and Node's.
 *
 * @since 0.1.0
 * @category parsing
 */
export const names: ReadonlyArray<string> = spellings.map(([name]) => name)

/**
 * The architecture a name means: `x86_64`, `amd64` or `x64`; `aarch64` or `arm64`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (name: string): Option.Option<Facts> => {
  const found = spellings.find(([spelling]) => spelling === name.toLowerCase())
  return found === undefined ? Option.none() : Option.some(all[found[1]])
}

/**
 * The architecture of an ELF program, by its `e_machine`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromElfMachine = (machine: number): Option.Option<Facts> =>
  Option.fromNullishOr(Object.values(all).find((facts) => facts.elfMachine === machine))

/**
 * The host's architecture, when the runner boots guests of it.
 *
 * @since 0.1.0
 * @category constants
 */
export const host: Option.Option<Facts> = Option.fromNullishOr(
  Object.values(all).find((facts) => facts.node === process.arch)
)

/**
 * Whether a guest of the architecture runs the host's own code: then the
 * host can run the guest's node (for its start-up snapshot) and KVM can
 * run the guest.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isHost = (facts: Facts): boolean => facts.node === process.arch
