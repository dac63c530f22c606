/**
 * The flags of `exec` beyond the machine's: the program's environment, the
 * host directories it sees, its consoles, and go test's file flags. The
 * guest's settings (`guestFlags`) go into the exec description as they are:
 * a new one is a flag and its field here, the field in `protocol/execSpec`,
 * and its use in `guest/execInit`.
 *
 * @since 0.1.0
 */
import { Option, Result } from "effect"
import { Flag } from "effect/cli"
import type { ExecSpec } from "../../protocol/execSpec.ts"
import { many, outputFlag, programArchFlag } from "../cli/flags.ts"
import { InvalidInput } from "../machine/Preflight.ts"

/**
 * The settings of the guest that the built-in init applies.
 *
 * @since 0.1.0
 * @category models
 */
export type GuestSettings = Pick<ExecSpec, "env" | "hostname">

/**
 * The flags of the guest's settings.
 *
 * @since 0.1.0
 * @category flags
 */
export const guestFlags = {
  env: many(Flag.String("env")).pipe(Flag.withDescription("K=V: a variable of the program's environment")),
  hostname: Flag.String("hostname").pipe(
    Flag.withDescription("The guest's host name (uname -n, os.hostname()); the kernel's (none) by default"),
    Flag.optional
  )
}

/**
 * The guest settings' flags as parsed.
 *
 * @since 0.1.0
 * @category models
 */
export type GuestInput = {
  readonly [K in keyof typeof guestFlags]: (typeof guestFlags)[K] extends Flag.Flag<infer A> ? A
    : never
}

/**
 * The guest's settings from their flags, or what is wrong with one.
 *
 * @since 0.1.0
 * @category parsing
 */
export const guestSettings = (input: GuestInput): Result.Result<GuestSettings, InvalidInput> => {
  const env: Record<string, string> = {}
  for (const pair of input.env) {
    const at = pair.indexOf("=")
    if (at <= 0) return Result.fail(new InvalidInput({ flag: "--env", reason: `${JSON.stringify(pair)} is not K=V` }))
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  const hostname = Option.getOrUndefined(input.hostname)
  if (hostname !== undefined && (hostname === "" || Buffer.byteLength(hostname) > 64)) {
    return Result.fail(
      new InvalidInput({
        flag: "--hostname",
        reason: `${JSON.stringify(hostname)} is not a host name of 1 to 64 bytes`
      })
    )
  }
  return Result.succeed({ env, hostname })
}

/**
 * The flags of `exec` besides the machine's (`cli/flags`).
 *
 * @since 0.1.0
 * @category flags
 */
export const execFlags = {
  arch: programArchFlag,
  output: outputFlag({ stderr: true }),
  input: many(Flag.String("input")).pipe(
    Flag.withDescription(
      "A unix socket, listened on here, for the console after the --output ones: the guest reads what is written to it"
    )
  ),
  kernelModules: Flag.Directory("kernel-modules", { mustExist: true }).pipe(
    Flag.withDescription("The kernel's module tree (…/modules/<release>); the cached kernel's by default"),
    Flag.optional
  ),
  share: many(Flag.String("share")).pipe(
    Flag.withDescription(
      "HOST[:GUEST][:ro]: a host directory over 9p, at the same path by default, read-write unless :ro"
    )
  ),
  hostRoot: Flag.Boolean("host-root").pipe(
    Flag.withDescription(
      "The host's /usr, /bin, /lib*, /etc, /opt, /home read-only, fresh tmpfs on /tmp, /run, /var/tmp, /root"
    ),
    Flag.withDefault(false)
  ),
  cold: Flag.Boolean("cold").pipe(
    Flag.withDescription(
      "Boot the machine cold and save nothing; by default a run restores the machine saved at the init's ready point"
    ),
    Flag.withDefault(false)
  ),
  noGoTestRewrite: Flag.Boolean("no-go-test-rewrite").pipe(
    Flag.withDescription("Pass go test's -test.*profile and -test.outputdir flags unchanged"),
    Flag.withDefault(false)
  ),
  guest: guestFlags
}
