/**
 * What a scenario came to, as plain data (JSON, so that a PID 1 in a
 * namespace can print it for the test outside to read), and what a contract
 * case expects of it.
 */
import { assert } from "@effect/vitest"
import { Cause, type Effect, Exit } from "effect"
import type { ErrnoName } from "../../src/internal/errno.ts"
import { SyscallError } from "../../src/Syscalls.ts"

/** What became of a scenario. */
export type Outcome =
  | { readonly kind: "Success"; readonly value: unknown }
  | { readonly kind: "SyscallError"; readonly syscall: string; readonly errno: string; readonly path?: string }
  | { readonly kind: "Failure"; readonly error: string }
  | { readonly kind: "Defect"; readonly cause: string }

/** The outcome of an exit: its value, its `SyscallError` (call, errno, path), another failure, or a defect. */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (Exit.isSuccess(exit)) return { kind: "Success", value: exit.value }
  const failure = exit.cause.reasons.find(Cause.isFailReason)
  if (failure === undefined) return { kind: "Defect", cause: Cause.pretty(exit.cause) }
  const error = failure.error
  if (error instanceof SyscallError) {
    return {
      kind: "SyscallError",
      syscall: error.syscall,
      errno: error.errno,
      ...(error.path === undefined ? {} : { path: error.path })
    }
  }
  return { kind: "Failure", error: String(error) }
}

/**
 * What a case expects: success (with this value, when one is given), or a
 * `SyscallError` of this call, with one of these errnos, about this path (no
 * path when none is given).
 */
export type Expected =
  | { readonly kind: "Success"; readonly value?: unknown }
  | {
    readonly kind: "SyscallError"
    readonly syscall: string
    readonly errno: ErrnoName | ReadonlyArray<ErrnoName>
    readonly path?: string
  }

/** Expects success; with a value, that value (deeply equal). */
export const succeeds = (...value: [] | [unknown]): Expected =>
  value.length === 0 ? { kind: "Success" } : { kind: "Success", value: value[0] }

/** Expects a `SyscallError`: the call, the errno (or one of several), and the path when the error names one. */
export const fails = (syscall: string, errno: ErrnoName | ReadonlyArray<ErrnoName>, path?: string): Expected =>
  path === undefined ? { kind: "SyscallError", syscall, errno } : { kind: "SyscallError", syscall, errno, path }

/** Asserts that an outcome is what was expected. */
export const assertOutcome = (outcome: Outcome, expected: Expected): void => {
  const shown = JSON.stringify(outcome)
  if (expected.kind === "Success") {
    assert.strictEqual(outcome.kind, "Success", shown)
    if ("value" in expected && outcome.kind === "Success") assert.deepStrictEqual(outcome.value, expected.value)
    return
  }
  assert.strictEqual(outcome.kind, "SyscallError", shown)
  if (outcome.kind !== "SyscallError") return
  const errnos: ReadonlyArray<string> = typeof expected.errno === "string" ? [expected.errno] : expected.errno
  assert.include(errnos, outcome.errno, shown)
  assert.deepStrictEqual(
    { syscall: outcome.syscall, path: outcome.path },
    { syscall: expected.syscall, path: expected.path },
    shown
  )
}

/**
 * Where a contract runs: on a machine, as its init (what the memory kernel
 * answers, as Linux answers root in a VM), or on the live kernel as mapped
 * root of a user namespace (the namespace tier), which Linux refuses some
 * things a machine's root may do.
 */
export type Environment = "machine" | "userNamespace"

/** A capability that a call checks before anything else, so that what it answers depends on it. */
export type Capability = "CAP_SYS_ADMIN" | "CAP_NET_ADMIN" | "CAP_SYS_MODULE"

/**
 * A case whose answer to an ordinary process depends on a capability: what
 * it expects with it (`expected` unless given) and without it.
 */
export interface CapabilityDependent {
  readonly capability: Capability
  readonly with?: Expected
  readonly without: Expected
}

/** One row of a contract table: what to run, and what it must come to. */
export interface ContractCase<R> {
  /** The behaviour, in a sentence. */
  readonly name: string
  readonly run: Effect.Effect<unknown, unknown, R>
  readonly expected: Expected
  /** What the live kernel answers instead in a user namespace (e.g. `EPERM` for devtmpfs), when it differs. */
  readonly inUserNamespace?: Expected
  /**
   * Whether the case may run on the live kernel in the tests' own process
   * (the unit tier: not PID 1, as whoever runs the tests), and what it comes
   * to there: `true` for `expected`. Absent for a case that would change the
   * host or that needs PID 1 or a fresh machine (a mount that succeeds, the
   * host name, `lo`, the clock, a descriptor closed in a process whose other
   * threads may reuse its number at once).
   */
  readonly onHost?: true | CapabilityDependent
}

/** What a case expects in an environment. */
export const expectedIn = <R>(row: ContractCase<R>, environment: Environment): Expected =>
  environment === "userNamespace" ? row.inUserNamespace ?? row.expected : row.expected

/** Either of two `SyscallError`s of one call and path (its errnos together); `first` when either is a success. */
const eitherOf = (first: Expected, second: Expected): Expected =>
  first.kind === "SyscallError" && second.kind === "SyscallError"
    ? { ...first, errno: [...[first.errno].flat(), ...[second.errno].flat()] }
    : first

/**
 * What a case marked `onHost` expects in the tests' own process, given
 * whether it holds a capability: `true`, `false`, or `undefined` when that
 * cannot be told (then either answer will do).
 */
export const expectedOnHost = <R>(
  row: ContractCase<R>,
  holds: (capability: Capability) => boolean | undefined
): Expected => {
  const onHost = row.onHost
  if (onHost === undefined || onHost === true) return row.expected
  const withIt = onHost.with ?? row.expected
  const held = holds(onHost.capability)
  return held === undefined ? eitherOf(withIt, onHost.without) : held ? withIt : onHost.without
}
