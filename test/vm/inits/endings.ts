// How a run ends, chosen by the first init argument.
import { Effect } from "effect"
import { Init, Sysinit } from "effect-sysinit"

class StepFailed extends Error {}

const endings: Record<string, ReadonlyArray<Effect.Effect<unknown, StepFailed, Init.Services>>> = {
  "exit 1": [Sysinit.setExitCode(1)],
  "failing finalizer, exit 3": [
    Effect.addFinalizer(() => Effect.die(new Error("the finalizer broke"))),
    Sysinit.setExitCode(3)
  ],
  "failing step": [Sysinit.setExitCode(0), Effect.fail(new StepFailed("the step failed"))],
  "throwing step": [
    Sysinit.setExitCode(0),
    Effect.sync(() => {
      throw new Error("the step threw")
    })
  ]
}

Init.main(...(endings[process.argv[2] ?? ""] ?? [Effect.fail(new StepFailed(`no ending ${process.argv[2]}`))]))
