// The consoles between the guest and the host: one table of what each
// console number carries, the device it is in the guest for each transport,
// and how many a transport has. The runner lays consoles out with `layout`
// and connects each to a host file or socket in that order; the guest finds
// console N as `/dev/virtrun<N>`. Both sides import this file; no console
// number is written anywhere else.

/**
 * How the consoles reach the host: ISA serial ports (`/dev/ttyS<N>`, built
 * into Debian's kernel) or virtio consoles (`/dev/hvc<N>`, on a
 * virtio-serial PCI device; virtrun calls this transport "pci").
 */
export type Transport = "serial" | "virtio"

/** Consoles a transport has, console 0 included: a PC's four serial ports; the eight ports virtio-serial is started with. */
export const consoleLimit: Readonly<Record<Transport, number>> = { serial: 4, virtio: 8 }

/**
 * What a console carries:
 * - `log`: console 0, the kernel's console: its log, the init's log and stderr, and the exit code line;
 * - `stdout`: console 1, the guest's stdout (the init's, or `exec`'s program's);
 * - `stderr`: console 2 under `exec`, the program's stderr;
 * - `output`: a host file the guest writes (`--output`);
 * - `input`: a unix socket on the host whose bytes the guest reads (`--input`);
 * - `terminal`: both ways, the terminal of `shell`'s program: the host terminal's input to the guest,
 *   what the program writes on it back;
 * - `control`: the runner's messages to the init (the run a restored machine is to do).
 */
export type Role = "log" | "stdout" | "stderr" | "output" | "input" | "terminal" | "control"

/** What a run needs besides console 0 and stdout. */
export interface LayoutRequest {
  /** A console of its own for stderr (`exec`). */
  readonly stderr?: boolean | undefined
  readonly outputs?: number | undefined
  readonly inputs?: number | undefined
  /** A terminal for the program (`shell` with a terminal on its stdin). */
  readonly terminal?: boolean | undefined
  readonly control?: boolean | undefined
}

/**
 * The consoles of a run in order, by role: console 0 (log), 1 (stdout),
 * then stderr, the outputs, the inputs, the terminal and the control
 * console as asked.
 */
export const layout = (request: LayoutRequest = {}): ReadonlyArray<Role> => [
  "log",
  "stdout",
  ...(request.stderr === true ? ["stderr" as const] : []),
  ...Array.from({ length: request.outputs ?? 0 }, () => "output" as const),
  ...Array.from({ length: request.inputs ?? 0 }, () => "input" as const),
  ...(request.terminal === true ? ["terminal" as const] : []),
  ...(request.control === true ? ["control" as const] : [])
]

/** The numbers of the consoles of a role in a layout. */
export const numbersOf = (consoles: ReadonlyArray<Role>, role: Role): ReadonlyArray<number> =>
  consoles.flatMap((candidate, number) => candidate === role ? [number] : [])

/** Console 1 carries the guest's stdout. */
export const stdoutPort = 1

/** Console 2 carries the program's stderr under `exec`. */
export const stderrPort = 2

/** The guest's device of console `port`. */
export const consoleDevice = (transport: Transport, port: number): string =>
  transport === "serial" ? `/dev/ttyS${port}` : `/dev/hvc${port}`

/** The kernel's name of console 0, for `console=` on its command line. */
export const kernelConsole = (transport: Transport): string => consoleDevice(transport, 0).slice("/dev/".length)

/** Where the guest finds the console of a port: `/dev/virtrun<N>`, a link to the console device. */
export const hostPipePath = (port: number): string => `/dev/virtrun${port}`

/**
 * The variable of `exec`'s program environment that names its input
 * consoles (`/dev/virtrun<N>`, space-separated), in the order of `--input`.
 */
export const inputsVariable = "EFFECT_SYSINIT_INPUTS"

/**
 * The serial ports that have a UART, from the serial driver's table
 * (`/proc/tty/driver/serial`), e.g. `1: uart:16550A port:000002F8 irq:3 tx:0 rx:0`;
 * a port without one says `uart:unknown`.
 */
export const parseSerialDriver = (text: string): ReadonlyArray<number> =>
  text.split("\n").flatMap((line) => {
    const match = /^\s*(\d+):(.*)$/.exec(line)
    if (match === null || !match[2]!.includes("uart:") || match[2]!.includes("uart:unknown")) return []
    return [Number(match[1])]
  })

/**
 * Where the runner puts the modules that the transport's consoles need when
 * the kernel has them as modules (virtio_console, virtio_mmio, …): the
 * init loads them before it sets up the host pipes.
 */
export const transportModulesDirectory = "/lib/modules/transport"
