/**
 * The environment of the init and its children, and kernel parameters.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Env, Layer, Mount } from "effect-sysinit"
 *
 * const program = Effect.gen(function*() {
 *   yield* Mount.mountAll(Mount.essentialMountPoints()) // sysctls are files under /proc/sys
 *   yield* Env.setEnv({ PATH: "/data:/usr/bin:/bin" })
 *   yield* Env.sysctl("net.ipv4.ip_forward", "1")
 *   console.log(yield* Env.readSysctl("net/ipv4/ip_forward"))
 *   const kernel = yield* Layer.MemoryKernel
 *   console.log(kernel.state.env.get("PATH"))
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: 1
 * // prints: /data:/usr/bin:/bin
 * ```
 *
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import { sysctlPath } from "./internal/sysctl.ts"
import { NodeProcess } from "./NodeProcess.ts"
import { type SyscallError, Syscalls } from "./Syscalls.ts"

/**
 * Environment variables by name.
 *
 * @since 0.1.0
 * @category models
 */
export type EnvVars = Readonly<Record<string, string>>

/**
 * A sysctl key that does not name a file under /proc/sys.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSysctlKey extends Data.TaggedError("InvalidSysctlKey")<{ readonly key: string }> {
  override get message(): string {
    return `invalid sysctl key ${
      JSON.stringify(this.key)
    }: expected e.g. "net.ipv4.ip_forward" or "net/ipv4/ip_forward"`
  }
}

/**
 * Sets each variable, in sorted order of name, for the process
 * (`process.env`) and the children it spawns afterwards. A name that is empty
 * or holds `=` is `EINVAL`.
 *
 * @since 0.1.0
 * @category operations
 */
export const setEnv = Effect.fn("Env.setEnv")(
  function*(vars: EnvVars): Effect.fn.Return<void, SyscallError, NodeProcess> {
    const nodeProcess = yield* NodeProcess
    for (const name of Object.keys(vars).toSorted()) {
      yield* nodeProcess.setEnv(name, vars[name]!)
    }
  }
)

/**
 * Sets a kernel parameter, e.g. `sysctl("net.ipv4.ip_forward", "1")`. An
 * unknown key is `ENOENT`.
 *
 * @since 0.1.0
 * @category operations
 */
export const sysctl = Effect.fn("Env.sysctl")(
  function*(key: string, value: string): Effect.fn.Return<void, SyscallError | InvalidSysctlKey, Syscalls> {
    const file = sysctlPath(key)
    if (file === undefined) return yield* new InvalidSysctlKey({ key })
    const syscalls = yield* Syscalls
    yield* syscalls.writeFile(file, value)
  }
)

/**
 * Reads a kernel parameter, without its trailing newline.
 *
 * @since 0.1.0
 * @category operations
 */
export const readSysctl = Effect.fn("Env.readSysctl")(
  function*(key: string): Effect.fn.Return<string, SyscallError | InvalidSysctlKey, Syscalls> {
    const file = sysctlPath(key)
    if (file === undefined) return yield* new InvalidSysctlKey({ key })
    const syscalls = yield* Syscalls
    return new TextDecoder().decode(yield* syscalls.readFile(file)).replace(/\n$/, "")
  }
)
