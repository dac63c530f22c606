// Output of PID 1 in a real VM: `output KiB` writes KiB of random bytes four
// ways, each on its own host pipe or after the other on stdout, and logs
// their sha256 on console 0 first:
// - stdout: a faked exit line, then KiB with process.stdout.write (the
//   init's redirected stdout, written through at once), then KiB through a
//   write stream of /dev/virtrun1 that no step waits for;
// - /dev/virtrun2: KiB with fs.writeFileSync;
// - /dev/virtrun3: KiB through a write stream that no step waits for.
// It exits with 300: more than a byte holds, so only the exit line can carry it.
import { Effect } from "effect"
import { HostPipe, Init, Sysinit } from "effect-sysinit"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"

const [mode, kib] = process.argv.slice(2)

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")

// The line a program may print to fake an ending: console 1 is not where the runner looks.
const fakedExitLine = "VIRTRUN_EXIT_CODE: 0\n"

const output = Effect.gen(function*() {
  const bytes = Number(kib) * 1024
  const [written, streamed, toFile, streamedToFile] = [0, 1, 2, 3].map(() => randomBytes(bytes))
  const stdout = Buffer.concat([Buffer.from(fakedExitLine), written!, streamed!])
  yield* Effect.log(`sha256 stdout=${sha256(stdout)} second=${sha256(toFile!)} third=${sha256(streamedToFile!)}`)
  process.stdout.write(fakedExitLine)
  process.stdout.write(written!)
  // Neither stream is awaited: the run must not end before both are out.
  fs.createWriteStream("/dev/virtrun1").end(streamed)
  fs.writeFileSync("/dev/virtrun2", toFile!)
  fs.createWriteStream("/dev/virtrun3").end(streamedToFile)
})

Init.main(
  HostPipe.withStdoutHostPipe,
  mode === "output" ? output : Effect.die(new Error(`no mode ${mode}`)),
  Sysinit.setExitCode(300)
)
