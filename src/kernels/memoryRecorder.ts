/**
 * What the in-memory fakes share: the log of every call made through
 * `Syscalls` and `NodeProcess`, and the failures a test injects into them.
 */
import { Effect } from "effect"
import type { ErrnoName } from "../internal/errno.ts"
import type { NodeProcessShape } from "../NodeProcess.ts"
import { SyscallError, type SyscallsShape } from "../Syscalls.ts"

/** A call of either in-memory service, by its name in the service. */
export type CallName = keyof SyscallsShape | keyof NodeProcessShape

/**
 * A failure to inject: the next `times` calls (every call when omitted) of
 * `call`, on `path` when given, fail with `errno`.
 */
export interface Fault {
  readonly call: CallName
  readonly errno: ErrnoName
  readonly path?: string
  readonly times?: number
}

export interface Call {
  readonly call: CallName
  readonly path: string | undefined
}

/** A failure of the in-memory kernel: the errno Linux would give, the path concerned, and the call, when not the one made. */
export class KernelFault {
  readonly errno: ErrnoName
  readonly path: string | undefined
  readonly syscall: string | undefined
  constructor(errno: ErrnoName, path?: string, syscall?: string) {
    this.errno = errno
    this.path = path
    this.syscall = syscall
  }
}

/** Fails the call being made as the kernel would, with `errno`. */
export function fault(errno: ErrnoName, at?: string, syscall?: string): never {
  throw new KernelFault(errno, at, syscall)
}

export class Recorder {
  readonly calls: Array<Call> = []
  private faults: Array<Fault & { remaining: number }> = []

  fail(planned: Fault): void {
    this.faults.push({ ...planned, remaining: planned.times ?? Number.POSITIVE_INFINITY })
  }

  clearFaults(): void {
    this.faults = []
  }

  /**
   * A call that may fail: logged, then failing with an injected fault or
   * with the `KernelFault` its body throws or fails with, as `syscall`.
   */
  call<A>(
    name: CallName,
    syscall: string,
    at: string | undefined,
    body: () => A | Effect.Effect<A, KernelFault>
  ): Effect.Effect<A, SyscallError> {
    return Effect.suspend(() => {
      this.calls.push({ call: name, path: at })
      const injected = this.faults.find((f) => f.call === name && (f.path === undefined || f.path === at))
      if (injected !== undefined) {
        injected.remaining -= 1
        this.faults = this.faults.filter((f) => f.remaining > 0)
        return Effect.fail(SyscallError.of(syscall, injected.errno, at))
      }
      const toError = (error: KernelFault) => SyscallError.of(error.syscall ?? syscall, error.errno, error.path ?? at)
      try {
        const result = body()
        return Effect.isEffect(result) ? Effect.mapError(result, toError) : Effect.succeed(result)
      } catch (error) {
        if (error instanceof KernelFault) return Effect.fail(toError(error))
        throw error
      }
    })
  }

  /** A call that cannot fail: logged, then run. */
  total<A>(name: CallName, body: () => A): Effect.Effect<A> {
    return Effect.sync(() => {
      this.calls.push({ call: name, path: undefined })
      return body()
    })
  }
}
