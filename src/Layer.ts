/**
 * Layers of the `Syscalls` service: `memory` for tests, an inspectable
 * in-memory Linux; `live` for real, the kernel through libc.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { ErrnoName } from "./internal/errno.ts"
import { LiveKernelUnavailable, make as makeLive } from "./internal/liveSyscalls.ts"
import {
  type ConsolesConfig,
  type ConsoleState,
  KernelFault,
  type LoadedModule,
  MemoryKernel as Kernel,
  type MemoryKernelOptions,
  type MountEntry,
  type Node
} from "./internal/memoryKernel.ts"
import { scopedQueue } from "./internal/scopedQueue.ts"
import { type ProcessFault, type SignalName, SyscallError, Syscalls, type SyscallsShape } from "./Syscalls.ts"

export type { ConsolesConfig, ConsoleState, LoadedModule, MemoryKernelOptions, MountEntry, Node }
export {
  /**
   * The live kernel cannot be used here: not Linux, an architecture without
   * a syscall table, or koffi or libc failed to load.
   *
   * @since 0.1.0
   * @category errors
   */
  LiveKernelUnavailable
}

/**
 * The running Linux kernel, through libc (koffi, loaded once, when this
 * Layer is first built) and `node:fs`.
 *
 * @since 0.1.0
 * @category layers
 */
export const live: Layer.Layer<Syscalls, LiveKernelUnavailable> = Layer.effect(Syscalls, makeLive)

/**
 * A failure to inject: the next `times` calls (every call when omitted) of
 * `call`, on `path` when given, fail with `errno`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fault {
  readonly call: keyof SyscallsShape
  readonly errno: ErrnoName
  readonly path?: string
  readonly times?: number
}

/**
 * What a test sees of the in-memory kernel: its whole state, and fault injection.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryKernelHandle {
  /** The kernel's state: mounts in mount order, file tree, modules, interfaces, env, sysctls, consoles, reboots, pid. */
  readonly state: Readonly<Kernel>
  readonly fail: (fault: Fault) => void
  readonly clearFaults: () => void
  /** Sends a signal to the init; like the kernel for PID 1, drops it when nothing handles it. Returns whether it was handled. */
  readonly raise: (signal: SignalName) => boolean
  /** Makes the process do what `processFaults` catches (a throw nobody caught, `process.exit`, …). */
  readonly processFault: (fault: ProcessFault) => void
  /** Adds a zombie child of the init: an orphan, or a child Node spawned itself. */
  readonly addZombie: (pid: number, options?: { readonly spawnedByNode?: boolean }) => void
  /** Every call made through `Syscalls`, in order, with its path or name argument. */
  readonly calls: ReadonlyArray<{ readonly call: keyof SyscallsShape; readonly path: string | undefined }>
}

/**
 * The in-memory kernel behind `memory`, for tests to inspect.
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryKernel extends Context.Service<MemoryKernel, MemoryKernelHandle>()("effect-sysinit/MemoryKernel") {}

const syscallOf: Record<keyof SyscallsShape, string> = {
  getpid: "getpid",
  mount: "mount",
  umount: "umount2",
  reboot: "reboot",
  sync: "sync",
  finitModule: "finit_module",
  initModule: "init_module",
  interfaceFlags: "ioctl",
  setInterfaceFlags: "ioctl",
  openConsole: "open",
  setRawMode: "ioctl",
  drain: "ioctl",
  write: "write",
  close: "close",
  isTerminal: "ioctl",
  reopenStdio: "open",
  symlink: "symlink",
  readlink: "readlink",
  mkdirAll: "mkdir",
  readFile: "open",
  writeFile: "open",
  fileType: "stat",
  glob: "scandir",
  getEnv: "getenv",
  setEnv: "setenv",
  signals: "sigaction",
  processFaults: "sigaction",
  reapOrphans: "waitpid",
  settleOutput: "fsync",
  writeStderr: "write",
  redirectStdout: "dup2"
}

const makeMemory = (options: MemoryKernelOptions): [SyscallsShape, MemoryKernelHandle] => {
  const kernel = new Kernel(options)
  let faults: Array<Fault & { remaining: number }> = []
  const calls: Array<{ call: keyof SyscallsShape; path: string | undefined }> = []
  const signalHandlers = new Set<{ names: ReadonlyArray<SignalName>; push: (signal: SignalName) => void }>()
  const faultHandlers = new Set<(fault: ProcessFault) => void>()

  const call = <A>(name: keyof SyscallsShape, at: string | undefined, body: () => A): Effect.Effect<A, SyscallError> =>
    Effect.suspend(() => {
      calls.push({ call: name, path: at })
      const injected = faults.find((f) => f.call === name && (f.path === undefined || f.path === at))
      if (injected !== undefined) {
        injected.remaining -= 1
        faults = faults.filter((f) => f.remaining > 0)
        return Effect.fail(SyscallError.of(syscallOf[name], injected.errno, at))
      }
      try {
        return Effect.succeed(body())
      } catch (error) {
        if (error instanceof KernelFault) {
          return Effect.fail(SyscallError.of(syscallOf[name], error.errno, error.path ?? at))
        }
        throw error
      }
    })

  const total = <A>(name: keyof SyscallsShape, body: () => A): Effect.Effect<A> =>
    Effect.sync(() => {
      calls.push({ call: name, path: undefined })
      return body()
    })

  const syscalls: SyscallsShape = {
    getpid: total("getpid", () => kernel.pid),
    mount: (request) => call("mount", request.target, () => kernel.mount(request)),
    umount: (target) => call("umount", target, () => kernel.umount(target)),
    reboot: (command) =>
      call("reboot", undefined, () => {
        kernel.reboots.push(command)
      }),
    sync: total("sync", () => {
      kernel.syncs += 1
    }),
    finitModule: (file, params, flags) =>
      Effect.flatMap(
        kernel.kernelDecompressed(file, flags),
        (decompressed) => call("finitModule", file, () => kernel.finitModule(file, params, flags, decompressed))
      ),
    initModule: (image, params) => call("initModule", undefined, () => kernel.initModule(image, params)),
    interfaceFlags: (name) => call("interfaceFlags", name, () => kernel.interfaceFlags(name)),
    setInterfaceFlags: (name, flags) => call("setInterfaceFlags", name, () => kernel.setInterfaceFlags(name, flags)),
    openConsole: (device) => call("openConsole", device, () => kernel.openConsole(device)),
    setRawMode: (fd) =>
      call("setRawMode", undefined, () => {
        kernel.console(fd).raw = true
      }),
    drain: (fd) =>
      call("drain", undefined, () => {
        kernel.console(fd).drained = true
      }),
    write: (fd, data) => call("write", undefined, () => kernel.write(fd, data)),
    close: (fd) => call("close", undefined, () => kernel.close(fd)),
    isTerminal: (fd) => call("isTerminal", undefined, () => kernel.isTerminal(fd)),
    reopenStdio: (device) => call("reopenStdio", device, () => kernel.reopenStdio(device)),
    symlink: (target, link) => call("symlink", link, () => kernel.symlink(target, link)),
    readlink: (link) => call("readlink", link, () => kernel.readlink(link)),
    mkdirAll: (dir, mode) => call("mkdirAll", dir, () => kernel.mkdirAll(dir, mode)),
    readFile: (file) => call("readFile", file, () => kernel.readFile(file)),
    writeFile: (file, data) => call("writeFile", file, () => kernel.writeFile(file, data)),
    fileType: (file) => call("fileType", file, () => kernel.fileType(file)),
    glob: (pattern) => call("glob", pattern, () => kernel.glob(pattern)),
    getEnv: total("getEnv", () => Object.fromEntries(kernel.env)),
    setEnv: (name, value) => call("setEnv", name, () => kernel.setEnv(name, value)),
    signals: (names) =>
      Effect.andThen(
        total("signals", () => undefined),
        scopedQueue<SignalName>((push) => {
          const handler = { names, push }
          signalHandlers.add(handler)
          return () => signalHandlers.delete(handler)
        })
      ),
    processFaults: Effect.andThen(
      total("processFaults", () => undefined),
      scopedQueue<ProcessFault>((push) => {
        faultHandlers.add(push)
        return () => faultHandlers.delete(push)
      })
    ),
    reapOrphans: total("reapOrphans", () => kernel.reapOrphans()),
    settleOutput: total("settleOutput", () => {
      kernel.settles += 1
    }),
    writeStderr: (text) => total("writeStderr", () => kernel.writeStderr(text)),
    redirectStdout: (fd) =>
      total("redirectStdout", () => {
        kernel.stdoutFd = fd
      })
  }

  const handle: MemoryKernelHandle = {
    state: kernel,
    fail: (f) => {
      faults.push({ ...f, remaining: f.times ?? Number.POSITIVE_INFINITY })
    },
    clearFaults: () => {
      faults = []
    },
    raise: (signal) => {
      const handlers = [...signalHandlers].filter((handler) => handler.names.includes(signal))
      for (const handler of handlers) handler.push(signal)
      return handlers.length > 0
    },
    processFault: (fault) => {
      for (const handler of faultHandlers) handler(fault)
    },
    addZombie: (pid, zombie = {}) => {
      kernel.zombies.push({ pid, spawnedByNode: zombie.spawnedByNode ?? false })
    },
    calls
  }
  return [syscalls, handle]
}

/**
 * An in-memory Linux kernel: every operation works without root and without
 * touching the host, answers with the errnos Linux gives, and leaves its
 * effects in `MemoryKernel` for the test to inspect.
 *
 * @since 0.1.0
 * @category layers
 */
export const memory = (options: MemoryKernelOptions = {}): Layer.Layer<Syscalls | MemoryKernel> =>
  Layer.effectContext(Effect.sync(() => {
    const [syscalls, handle] = makeMemory(options)
    return Context.make(Syscalls, syscalls).pipe(Context.add(MemoryKernel, handle))
  }))
