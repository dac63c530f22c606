/**
 * `effect-sysinit vm [options] INIT [-- ARGS…]`: runs INIT as PID 1 of a
 * fresh VM and exits with the guest's exit code.
 *
 * @since 0.1.0
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import * as Kernel from "../kernel/Kernel.ts"
import { verdictOf } from "../machine/verdict.ts"
import * as Runner from "../Runner.ts"
import { archFlag, machineFlags, outputFlag } from "./flags.ts"
import * as Output from "./output.ts"

/**
 * The `vm` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const vmCommand = Command.make("vm", {
  init: Argument.File("init", { mustExist: true }).pipe(
    Argument.withDescription("The init: a .ts or .js module that runs Sysinit.run")
  ),
  args: Argument.String("args").pipe(
    Argument.variadic(),
    Argument.withDescription("Arguments for the init, after --")
  ),
  ...machineFlags,
  arch: archFlag,
  output: outputFlag({})
}, (input) =>
  Effect.gen(function*() {
    const timings = Output.timings()
    const transport = Option.getOrElse(input.transport, () => input.arch.defaultTransport)
    const kernel = yield* Kernel.find(Option.getOrUndefined(input.kernel), input.arch)
    timings.mark("plan")
    const report = yield* Runner.run({
      init: input.init,
      args: input.args,
      kernel,
      node: Option.getOrUndefined(input.node),
      arch: input.arch,
      transport,
      memory: input.memory,
      smp: input.smp,
      kvm: Option.getOrElse(input.kvm, () => "auto" as const),
      timeout: Option.getOrUndefined(input.timeout),
      files: input.addFile,
      modules: input.addModule,
      outputs: input.output,
      environment: Output.colorEnvironment(process.stdout.isTTY === true, process.env),
      stdout: Output.writeStdout,
      mark: timings.mark,
      ...Output.reporters(input.verbose)
    })
    yield* Output.finish(verdictOf({ ...report, kvm: report.kvm.kvm }, { verbose: input.verbose, transport }))
    timings.mark("runner exit")
    if (input.timings) yield* Console.error(timings.line())
  }).pipe(Effect.catch(Output.fail))).pipe(Command.withDescription("Run INIT as PID 1 of a fresh Linux VM under QEMU"))
