// PID 1 duties in a real VM. `output MiB sync|streams`: writes MiB of random
// bytes to stdout and MiB to /dev/virtrun2, after logging their sha256 on
// console 0: with process.stdout.write and fs.writeFileSync, or through
// write streams that the step does not wait for. `orphans`: reaps a shell's
// orphans while Node's own children report their exit codes (the test adds
// dash with --add-file: found on PATH in /data, the VM has no other shell).
import { Effect } from "effect"
import { HostPipe, Init, Sysinit } from "effect-sysinit"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { orphansAndChildren } from "../../shared/orphans.ts"

const [mode, size, how] = process.argv.slice(2)

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")

const output = Effect.gen(function*() {
  const bytes = Number(size) * 1024 * 1024
  const toStdout = randomBytes(bytes)
  const toFile = randomBytes(bytes)
  yield* Effect.log(`sha256 stdout=${sha256(toStdout)} file=${sha256(toFile)}`)
  if (how === "streams") {
    // Neither stream is awaited: the run must not end before both are out.
    fs.createWriteStream("/dev/virtrun1").end(toStdout)
    fs.createWriteStream("/dev/virtrun2").end(toFile)
  } else {
    process.stdout.write(toStdout)
    fs.writeFileSync("/dev/virtrun2", toFile)
  }
})

Init.main(
  HostPipe.withStdoutHostPipe,
  mode === "orphans" ? orphansAndChildren("dash") : output,
  Sysinit.setExitCode(0)
)
