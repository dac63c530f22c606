// The demo's init: says hello on its own stdout (console 1 of the VM, the
// runner's stdout on the host) and exits with 0.
import { Console, Effect } from "effect"
import { HostPipe, Init, Mount, Sysinit } from "effect-sysinit"
import * as os from "node:os"

Init.main(
  Mount.withMountPoints(Mount.systemMountPoints()),
  HostPipe.withStdoutHostPipe,
  Effect.gen(function*() {
    yield* Console.log(`hello from PID ${process.pid} of a fresh VM`)
    yield* Console.log(
      `Linux ${os.release()}, Node ${process.version}, ${os.cpus().length} CPU, ${
        Math.round(os.totalmem() / 2 ** 20)
      } MiB`
    )
    yield* Sysinit.setExitCode(0)
  })
)
