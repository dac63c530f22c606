/**
 * The in-memory machine's open descriptors: consoles (device nodes with a
 * terminal behind them) and regular files opened in their place, what the
 * host sent to each console device and the reads waiting for it.
 */
import { Effect } from "effect"
import { isWindowSize, type WindowSize } from "../protocol/control.ts"
import type { ConsolesConfig, ConsoleState, Node } from "./memoryModel.ts"
import { fault, KernelFault } from "./memoryRecorder.ts"

/** What the descriptor table needs of the machine: its paths and which consoles the host connected. */
export interface DescriptorHost {
  readonly tree: Map<string, Node>
  readonly consolesConfig: ConsolesConfig
  resolve(file: string): string
  lookup(resolved: string): Node | undefined
}

interface OpenFile {
  readonly path: string
  offset: number
  open: boolean
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

export class MemoryDescriptors {
  readonly consoles = new Map<number, ConsoleState>()
  /** Regular files opened with `open`: not terminals; what is written lands in the file. */
  private readonly files = new Map<number, OpenFile>()
  /** Bytes the host sent to each console device that nobody has read yet, and the reads waiting for some. */
  private readonly pendingInput = new Map<string, Uint8Array>()
  private readonly readers = new Map<string, Array<() => void>>()
  private nextFd = 3

  private readonly machine: DescriptorHost

  constructor(machine: DescriptorHost) {
    this.machine = machine
  }

  /** Opens a device node as Linux would: `ENODEV` for a virtio console the host did not connect. */
  openDevice(device: string): string {
    const resolved = this.machine.resolve(device)
    const node = this.machine.lookup(resolved)
    if (node === undefined) return fault("ENOENT", device)
    if (node.type === "directory") return fault("EISDIR", device)
    if (node.type !== "device") return fault("ENOTTY", device)
    const { ports, transport } = this.machine.consolesConfig
    const hvc = /^\/dev\/hvc(\d+)$/.exec(resolved)
    if (hvc && !ports.includes(Number(hvc[1]))) return fault("ENODEV", device)
    // console=hvc0: without a connected hvc0 the kernel has no console behind /dev/console.
    if (resolved === "/dev/console" && transport === "virtio" && !ports.includes(0)) return fault("ENODEV", device)
    return resolved
  }

  /** A console device, or a regular file standing in for one. */
  open(device: string): number {
    const file = this.machine.resolve(device)
    if (this.machine.lookup(file)?.type === "file") {
      const fd = this.nextFd++
      this.files.set(fd, { path: file, offset: 0, open: true })
      return fd
    }
    const resolved = this.openDevice(device)
    const fd = this.nextFd++
    this.consoles.set(fd, {
      device: resolved,
      raw: false,
      cooked: false,
      windowSize: undefined,
      open: true,
      drained: true,
      output: new Uint8Array()
    })
    return fd
  }

  /** What the host sends to a console device: a read of it gets these bytes. */
  sendToConsole(device: string, data: Uint8Array): void {
    this.pendingInput.set(device, concat(this.pendingInput.get(device) ?? new Uint8Array(), data))
    const waiting = this.readers.get(device) ?? []
    this.readers.delete(device)
    for (const wake of waiting) wake()
  }

  /**
   * Up to `size` bytes of a file (empty at its end), or sent to the console
   * of `fd`, without waiting: undefined when nothing was sent yet.
   */
  readAvailable(fd: number, size: number): Uint8Array | undefined {
    const file = this.openFile(fd)
    if (file !== undefined) {
      const node = this.machine.tree.get(file.path)
      const data = node?.type === "file" ? node.data.slice(file.offset, file.offset + size) : new Uint8Array()
      file.offset += data.length
      return data
    }
    const { device } = this.console(fd)
    const pending = this.pendingInput.get(device)
    if (pending === undefined || pending.length === 0) return undefined
    this.pendingInput.set(device, pending.subarray(size))
    return pending.slice(0, size)
  }

  /** Up to `size` bytes of a file, or sent to the console of `fd`, waiting until there are some. */
  read(fd: number, size: number): Effect.Effect<Uint8Array, KernelFault> {
    const available = this.readAvailable(fd, size)
    if (available !== undefined) return Effect.succeed(available)
    const { device } = this.console(fd)
    return Effect.andThen(
      Effect.callback<void>((resume) => {
        this.readers.set(device, [...(this.readers.get(device) ?? []), () => resume(Effect.void)])
      }),
      Effect.suspend(() => {
        try {
          return this.read(fd, size)
        } catch (error) {
          if (error instanceof KernelFault) return Effect.fail(error)
          throw error
        }
      })
    )
  }

  /** Whether `fd` is an open console (a terminal); `EBADF` when it is not open at all. */
  isConsole(fd: number): boolean {
    if (this.openFile(fd) !== undefined) return false
    this.console(fd)
    return true
  }

  console(fd: number): ConsoleState {
    const state = this.consoles.get(fd)
    if (state === undefined || !state.open) return fault("EBADF")
    return state
  }

  /** The console behind a descriptor, for the terminal ioctls: a regular file is `ENOTTY`. */
  terminal(fd: number): ConsoleState {
    if (this.openFile(fd) !== undefined) fault("ENOTTY")
    return this.console(fd)
  }

  setWindowSize(fd: number, size: WindowSize): void {
    if (!isWindowSize(size)) fault("EINVAL")
    this.terminal(fd).windowSize = { rows: size.rows, columns: size.columns }
  }

  write(fd: number, data: Uint8Array): void {
    const file = this.openFile(fd)
    if (file !== undefined) {
      // Opened without O_APPEND or O_TRUNC: writes go at the offset, over what is there.
      const node = this.machine.tree.get(file.path)
      if (node?.type !== "file") return
      const end = file.offset + data.length
      const out = new Uint8Array(Math.max(node.data.length, end))
      out.set(node.data)
      out.set(data, file.offset)
      node.data = out
      file.offset = end
      return
    }
    const state = this.console(fd)
    state.output = concat(state.output, data)
    state.drained = false
  }

  close(fd: number): void {
    const file = this.openFile(fd)
    if (file !== undefined) file.open = false
    else this.console(fd).open = false
  }

  private openFile(fd: number): OpenFile | undefined {
    const file = this.files.get(fd)
    return file?.open ? file : undefined
  }
}
