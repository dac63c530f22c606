// How an init fails, chosen by its first argument: the VM tier checks what
// the runner shows for each.
import { Effect } from "effect"
import { HostPipe, Init, Sysinit } from "effect-sysinit"

const how = process.argv[2]

if (how === "throw before run") {
  throw new Error("thrown at the top level") // test/vm/failures.test.ts looks for this line
}
if (how === "out of memory") {
  Init.main(Effect.sync(() => {
    const kept: Array<Buffer> = []
    for (;;) kept.push(Buffer.alloc(16 * 1024 * 1024, 1))
  }))
}
if (how === "colours") {
  Init.main(HostPipe.withStdoutHostPipe, Effect.sync(() => console.log(14, { a: "b" })), Sysinit.setExitCode(0))
}
if (how === "sleep") Init.main(Effect.sleep("10 minutes"))
// "no run": the module ends without calling Sysinit.run.
