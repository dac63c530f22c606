/**
 * `effect-sysinit exec [options] PROGRAM [ARGS…]`: runs PROGRAM as a child
 * of the built-in init in a fresh VM and exits with its exit code (`go test
 * -exec` works).
 *
 * @since 0.1.0
 */
import { Console, type Duration, Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import { execFlags } from "../exec/execFlags.ts"
import * as ExecPlan from "../exec/ExecPlan.ts"
import type * as Qemu from "../machine/Qemu.ts"
import { verdictOf } from "../machine/verdict.ts"
import { guestModule } from "../packageFiles.ts"
import * as Runner from "../Runner.ts"
import { machineFlags } from "./flags.ts"
import * as Output from "./output.ts"

/**
 * The flags of `exec`, by name as the command takes them.
 *
 * @since 0.1.0
 * @category flags
 */
export const flags = { ...machineFlags, ...execFlags }

/**
 * The flags of a planned run that the machine takes: what `runPlan` reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunFlags {
  readonly node: Option.Option<string>
  readonly memory: number
  readonly smp: number
  readonly kvm: Option.Option<boolean>
  readonly timeout: Option.Option<Duration.Duration>
  readonly cold: boolean
  readonly verbose: boolean
  readonly timings: boolean
}

/**
 * Boots a planned run of the built-in init and ends the command with the
 * run's verdict (its exit code, and lines on stderr): `exec`'s, and
 * `shell`'s with its terminal (`terminal` receives what the guest writes
 * there, `whileRunning` joins the host's to it once the run started).
 *
 * @since 0.1.0
 * @category running
 */
export const runPlan = Effect.fnUntraced(function*(
  plan: ExecPlan.ExecPlan,
  input: RunFlags,
  timings: ReturnType<typeof Output.timings>,
  session: Pick<Runner.Options, "terminal"> & {
    readonly whileRunning?: ((vm: Qemu.Vm) => Effect.Effect<void>) | undefined
  } = {}
) {
  const report = yield* Runner.run({
    init: guestModule("execInit"),
    kernel: plan.kernel,
    node: Option.getOrUndefined(input.node),
    arch: plan.arch,
    transport: plan.transport,
    memory: input.memory,
    smp: input.smp,
    kvm: Option.getOrElse(input.kvm, () => "auto" as const),
    timeout: Option.getOrUndefined(input.timeout),
    modules: plan.imageModules,
    // This run's files travel on a share of their own when the kernel has 9p; else in the image.
    extraFiles: plan.restorable ? plan.imageFiles : [...plan.imageFiles, ...plan.runFiles],
    outputs: plan.outputs,
    inputs: plan.inputs,
    shares: plan.shares,
    control: {
      run: plan.spec,
      runFiles: plan.restorable ? plan.runFiles : undefined,
      restore: plan.restorable && !input.cold,
      whileRunning: session.whileRunning
    },
    stdout: Output.writeStdout,
    stderr: Output.writeStderr,
    terminal: session.terminal,
    mark: timings.mark,
    ...Output.reporters(input.verbose)
  })
  yield* Output.finish(
    verdictOf({ ...report, kvm: report.kvm.kvm }, { verbose: input.verbose, transport: plan.transport })
  )
  timings.mark("runner exit")
  if (input.timings) yield* Console.error(timings.line())
})

/**
 * The `exec` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const execCommand = Command.make("exec", {
  program: Argument.String("program").pipe(
    Argument.withDescription("An ELF executable, a #! script, or a .js/.mjs/.ts file for node")
  ),
  args: Argument.String("args").pipe(
    Argument.variadic(),
    Argument.withDescription("The program's arguments, passed unread")
  ),
  ...flags
}, (input) =>
  Effect.gen(function*() {
    const timings = Output.timings()
    const plan = yield* ExecPlan.make({
      program: input.program,
      args: input.args,
      cwd: process.cwd(),
      hostEnv: process.env,
      color: Output.colorEnvironment(process.stdout.isTTY === true, process.env),
      arch: Option.getOrUndefined(input.arch),
      transport: Option.getOrUndefined(input.transport),
      kernel: Option.getOrUndefined(input.kernel),
      kernelModules: Option.getOrUndefined(input.kernelModules),
      shares: input.share,
      hostRoot: input.hostRoot,
      outputs: input.output,
      inputs: input.input,
      goTestRewrite: !input.noGoTestRewrite,
      guest: input.guest,
      node: Option.getOrUndefined(input.node),
      addFiles: input.addFile,
      addModules: input.addModule
    })
    timings.mark("plan")
    yield* runPlan(plan, input, timings)
  }).pipe(Effect.catch(Output.fail))).pipe(
    Command.withDescription(
      "Run PROGRAM as a child of a built-in init in a fresh Linux VM; exits with its exit code (go test -exec works)"
    )
  )
