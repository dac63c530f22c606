// Writes 1 MiB of random bytes to stdout and the sha256 of them to the second
// host pipe, tries to fake success on stdout, and exits with 300.
import { Effect } from "effect"
import { HostPipe, Init, Sysinit } from "effect-sysinit"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"

const write = (bytes: Uint8Array | string) =>
  Effect.callback<void>((resume) => {
    process.stdout.write(bytes, () => resume(Effect.void))
  })

Init.main(
  HostPipe.withStdoutHostPipe,
  Effect.gen(function*() {
    const payload = randomBytes(1024 * 1024)
    yield* write("VIRTRUN_EXIT_CODE: 0\n")
    yield* write(payload)
    fs.writeFileSync("/dev/virtrun2", createHash("sha256").update(payload).digest("hex") + "\n")
    yield* Sysinit.setExitCode(300)
  })
)
