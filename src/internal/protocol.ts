// The wire between the init in the guest and the runner on the host, as
// virtrun speaks it. Both sides import this file; nothing here is written
// twice.

/**
 * How the consoles reach the host: ISA serial ports (`/dev/ttyS<N>`, built
 * into Debian's kernel) or virtio consoles (`/dev/hvc<N>`, on a
 * virtio-serial PCI device; virtrun calls this transport "pci").
 */
export type Transport = "serial" | "virtio"

/** Consoles a transport has, console 0 included: a PC's four serial ports; the eight ports virtio-serial is started with. */
export const consoleLimit: Readonly<Record<Transport, number>> = { serial: 4, virtio: 8 }

/** The guest's device of console `port`. */
export const consoleDevice = (transport: Transport, port: number): string =>
  transport === "serial" ? `/dev/ttyS${port}` : `/dev/hvc${port}`

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

/** The kernel's name of console 0, for `console=` on its command line. */
export const kernelConsole = (transport: Transport): string => consoleDevice(transport, 0).slice("/dev/".length)

/**
 * Where the runner puts the modules that the transport's consoles need when
 * the kernel has them as modules (virtio_console, virtio_mmio, …): the
 * init loads them before it sets up the host pipes.
 */
export const transportModulesDirectory = "/lib/modules/transport"

/** Console 1 carries the guest's stdout; consoles 2… carry output files of the host. */
export const stdoutPort = 1

/** Where the guest finds the console of a port: `/dev/virtrun<N>`, a link to the console device. */
export const hostPipePath = (port: number): string => `/dev/virtrun${port}`

const exitCodeIdentifier = "VIRTRUN_EXIT_CODE"
const exitCodePattern = new RegExp(`^${exitCodeIdentifier}: (-?\\d+)\\r*$`)

/** The line the init prints on console 0 to report its exit code (which may be above 255). */
export const formatExitCode = (code: number): string => `${exitCodeIdentifier}: ${code}\n`

/** The exit code a line of console 0 reports, if it is an exit code line. */
export const parseExitCode = (line: string): number | undefined => {
  const match = exitCodePattern.exec(line)
  return match === null ? undefined : Number(match[1])
}
