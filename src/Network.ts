/**
 * Network interfaces, and the host name.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Network } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   yield* Network.setInterfaceUp("lo")
 *   yield* Network.setHostname("guest")
 *   console.log(yield* Network.isInterfaceUp("lo"))
 *   const error = yield* Effect.flip(Network.setInterfaceUp("eth0"))
 *   console.log(error.message)
 *   const kernel = yield* Layer.MemoryKernel
 *   console.log(kernel.state.sysctls.get("kernel.hostname"))
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: true
 * // prints: ioctl "eth0": ENODEV (no such device)
 * // prints: guest
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Abi from "./internal/abi.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * Brings the interface up (`IFF_UP`), keeping its other flags. An unknown
 * interface is `ENODEV`.
 *
 * @since 0.1.0
 * @category operations
 */
export const setInterfaceUp = Effect.fn("Network.setInterfaceUp")(
  function*(name: string): Effect.fn.Return<void, SyscallError, Syscalls> {
    const syscalls = yield* Syscalls
    const flags = yield* syscalls.interfaceFlags(name)
    if ((flags & Abi.IFF_UP) === 0) yield* syscalls.setInterfaceFlags(name, flags | Abi.IFF_UP)
  }
)

/**
 * Whether the interface is up.
 *
 * @since 0.1.0
 * @category operations
 */
export const isInterfaceUp = Effect.fn("Network.isInterfaceUp")(
  function*(name: string): Effect.fn.Return<boolean, SyscallError, Syscalls> {
    const syscalls = yield* Syscalls
    return ((yield* syscalls.interfaceFlags(name)) & Abi.IFF_UP) !== 0
  }
)

/**
 * Sets the machine's host name (sethostname(2)), what `uname -n`,
 * `os.hostname()` and `/proc/sys/kernel/hostname` give. A name longer than
 * 64 bytes is `EINVAL`.
 *
 * @since 0.1.0
 * @category operations
 */
export const setHostname = Effect.fn("Network.setHostname")(
  function*(name: string): Effect.fn.Return<void, SyscallError, Syscalls> {
    const syscalls = yield* Syscalls
    yield* syscalls.sethostname(name)
  }
)
