/**
 * The machine an init runs on, as Layers of `Syscalls` and `NodeProcess`:
 * `live` for real (the running kernel through libc, and this Node process),
 * `memory` for tests (an in-memory Linux whose state a test inspects through
 * `MemoryKernel`).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import * as LiveKernel from "./kernels/liveKernel.ts"
import * as LiveProcess from "./kernels/liveProcess.ts"
import { MemoryMachine } from "./kernels/memoryKernel.ts"
import type {
  ConsolesConfig,
  ConsoleState,
  LoadedModule,
  MemoryKernelOptions,
  MemoryKernelState,
  MountEntry,
  Node
} from "./kernels/memoryModel.ts"
import * as MemoryProcess from "./kernels/memoryProcess.ts"
import { type Call, type Fault, Recorder } from "./kernels/memoryRecorder.ts"
import { makeSyscalls } from "./kernels/memorySyscalls.ts"
import { NodeProcess, type ProcessFault, type SignalName } from "./NodeProcess.ts"
import { Syscalls } from "./Syscalls.ts"

export type {
  Call,
  ConsolesConfig,
  ConsoleState,
  Fault,
  LoadedModule,
  MemoryKernelOptions,
  MemoryKernelState,
  MountEntry,
  Node
}

export {
  /**
   * The live kernel cannot be used here: not Linux, an architecture without
   * a syscall table, or koffi or libc failed to load.
   *
   * @since 0.1.0
   * @category errors
   */
  LiveKernelUnavailable
} from "./kernels/liveKernel.ts"

/**
 * The running Linux kernel, through libc (koffi, loaded once, when this
 * Layer is first built) and `node:fs`, and this Node process.
 *
 * @since 0.1.0
 * @category layers
 */
export const live: Layer.Layer<Syscalls | NodeProcess, LiveKernel.LiveKernelUnavailable> = Layer.merge(
  Layer.effect(Syscalls, LiveKernel.make),
  Layer.sync(NodeProcess, LiveProcess.make)
)

/**
 * What a test sees of the in-memory machine: its state, read-only, and what
 * it can do to the machine from outside.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryKernelHandle {
  /** Mounts in mount order, file tree, modules, interfaces, env, sysctls, consoles, reboots, zombies, pid. */
  readonly state: MemoryKernelState
  /** Every call made through `Syscalls` and `NodeProcess`, in order, with its path or name argument. */
  readonly calls: ReadonlyArray<Call>
  /** Makes calls fail with an errno. */
  readonly fail: (fault: Fault) => void
  readonly clearFaults: () => void
  /** Sends a signal to the init; like the kernel for PID 1, drops it when nothing handles it. Returns whether it was handled. */
  readonly raise: (signal: SignalName) => boolean
  /** Makes the process do what `processFaults` catches (a throw nobody caught, `process.exit`, …). */
  readonly processFault: (fault: ProcessFault) => void
  /** Sends bytes to a console device (`/dev/hvc3`): what the host writes to it, which reads of it get. */
  readonly sendToConsole: (device: string, data: Uint8Array) => void
  /** Adds a zombie child of the init: an orphan, or a child Node spawned itself. */
  readonly addZombie: (pid: number, options?: { readonly spawnedByNode?: boolean }) => void
}

/**
 * The in-memory machine behind `memory`, for tests to inspect.
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryKernel extends Context.Service<MemoryKernel, MemoryKernelHandle>()("effect-sysinit/MemoryKernel") {}

/**
 * An in-memory Linux machine: every operation works without root and without
 * touching the host, answers with the errnos Linux gives, and leaves its
 * effects in `MemoryKernel` for the test to inspect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Network } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   const kernel = yield* Layer.MemoryKernel
 *   yield* Network.setInterfaceUp("eth0")
 *   kernel.fail({ call: "setInterfaceFlags", errno: "EPERM", path: "lo" })
 *   const error = yield* Effect.flip(Network.setInterfaceUp("lo"))
 *   console.log(error.message)
 *   console.log(kernel.calls.map(({ call, path }) => `${call} ${path}`).join(", "))
 * })
 *
 * // A machine with a second interface, both down.
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory({ interfaces: { lo: 0, eth0: 0 } }))))
 * // prints: ioctl "lo": EPERM (operation not permitted)
 * // prints: interfaceFlags eth0, setInterfaceFlags eth0, interfaceFlags lo, setInterfaceFlags lo
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const memory = (options: MemoryKernelOptions = {}): Layer.Layer<Syscalls | NodeProcess | MemoryKernel> =>
  Layer.effectContext(Effect.sync(() => {
    const machine = new MemoryMachine(options)
    const recorder = new Recorder()
    const [nodeProcess, driver] = MemoryProcess.make(machine, recorder)
    const handle: MemoryKernelHandle = {
      state: machine,
      calls: recorder.calls,
      fail: (fault) => recorder.fail(fault),
      clearFaults: () => recorder.clearFaults(),
      raise: driver.raise,
      processFault: driver.processFault,
      sendToConsole: (device, data) => machine.descriptors.sendToConsole(device, data),
      addZombie: (pid, zombie = {}) => {
        machine.zombies.push({ pid, spawnedByNode: zombie.spawnedByNode ?? false })
      }
    }
    return Context.make(Syscalls, makeSyscalls(machine, recorder)).pipe(
      Context.add(NodeProcess, nodeProcess),
      Context.add(MemoryKernel, handle)
    )
  }))
