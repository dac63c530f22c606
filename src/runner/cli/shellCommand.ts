/**
 * `effect-sysinit shell [options]`: an interactive shell, as root, in a
 * fresh VM with the host's userland and the working directory shared
 * read-write at its own path; it exits with the shell's exit code. With a
 * terminal on stdin, the shell runs on a terminal of the guest joined to
 * it (`hostTerminal`); with anything else, it reads the runner's stdin,
 * read whole first.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { Command } from "effect/cli"
import { execFlags } from "../exec/execFlags.ts"
import * as ExecPlan from "../exec/ExecPlan.ts"
import { parseShare, type Share } from "../exec/shares.ts"
import * as Shell from "../exec/shell.ts"
import { runPlan } from "./execCommand.ts"
import { machineFlags } from "./flags.ts"
import * as HostTerminal from "./hostTerminal.ts"
import * as Output from "./output.ts"

/**
 * The flags of `shell`: those of `exec` but the ones about a program it
 * does not take (`--host-root`, always on; go test's rewrite).
 *
 * @since 0.1.0
 * @category flags
 */
export const flags = {
  ...machineFlags,
  arch: execFlags.arch,
  output: execFlags.output,
  input: execFlags.input,
  kernelModules: execFlags.kernelModules,
  share: execFlags.share,
  cold: execFlags.cold,
  guest: execFlags.guest
}

/** The working directory, shared read-write at its own path, last: mounted over any share that holds it. */
const workingDirectoryShare = "."

/**
 * The `shell` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const shellCommand = Command.make("shell", flags, (input) =>
  Effect.gen(function*() {
    const timings = Output.timings()
    const cwd = process.cwd()
    const shareFlags = [...input.share, workingDirectoryShare]
    // A share it refuses is said by the plan; the shell is looked for in the others.
    const shares = shareFlags.flatMap((text): Array<Share> => {
      const share = parseShare(text, cwd)
      return share === undefined ? [] : [share]
    })
    const arch = Option.getOrUndefined(input.arch)
    const shell = yield* Shell.chooseShell({ hostEnv: process.env, shares, arch })
    const host = yield* HostTerminal.Host
    const onTerminal = HostTerminal.stdinIsTerminal(host)
    if (onTerminal) yield* Shell.checkTerminalSupport({ shell, hostEnv: process.env, shares })
    const terminal = onTerminal ? HostTerminal.windowSize(host) : undefined
    const stdin = onTerminal ? undefined : yield* HostTerminal.readStdin(host)
    const plan = yield* ExecPlan.make({
      program: shell,
      args: [],
      cwd,
      hostEnv: process.env,
      color: Output.colorEnvironment(process.stdout.isTTY === true, process.env),
      arch,
      transport: Option.getOrUndefined(input.transport),
      kernel: Option.getOrUndefined(input.kernel),
      kernelModules: Option.getOrUndefined(input.kernelModules),
      shares: shareFlags,
      hostRoot: true,
      outputs: input.output,
      inputs: input.input,
      goTestRewrite: false,
      guest: input.guest,
      node: Option.getOrUndefined(input.node),
      addFiles: input.addFile,
      addModules: input.addModule,
      stdin,
      terminal
    })
    timings.mark("plan")
    yield* runPlan(
      plan,
      input,
      timings,
      terminal === undefined ? {} : { terminal: Output.writeStdout, whileRunning: HostTerminal.session(terminal, host) }
    )
  }).pipe(Effect.catch(Output.fail))).pipe(
    Command.withDescription(
      "An interactive shell ($SHELL, else bash, else sh) as root in a fresh Linux VM with the host's userland " +
        "and the working directory shared read-write; with a terminal on stdin, on a terminal of the guest " +
        "joined to it; else reading stdin (read whole first). Exits with the shell's exit code"
    )
  )
