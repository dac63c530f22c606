// The vitest pool's worker in the guest (see src/vitest.ts): vitest's own
// worker loop (`init` from "vitest/worker", as the forks pool runs it) with
// frames in from the host on a console of its own and frames out on stdout,
// which the built-in init of `exec` put on console 1, in raw mode.
import { openSync } from "node:fs"
import { ReadStream } from "node:tty"
import { init, runBaseTests, setupEnvironment } from "vitest/worker"
import { inputsVariable } from "../protocol/consoles.ts"
import { decodePayload, encodeMessage, FrameDecoder, hello } from "../protocol/vitestFraming.ts"

// The pool gives exec one --input: the console vitest's messages come in on.
const device = process.env[inputsVariable]?.split(" ")[0]
if (device === undefined || device === "") {
  process.stderr.write(`effect-sysinit vitest worker: ${inputsVariable} names no input console\n`)
  process.exit(1)
}

// The init opened every console in raw mode (no echo, no CR-LF, no signal
// characters); a tty stream keeps it so and reads without blocking a thread.
const input = new ReadStream(openSync(device, "r"))
input.setRawMode(true)

type Listener = (message: unknown) => void
const listeners = new Set<Listener>()
const decoder = new FrameDecoder((payload) => {
  const message = decodePayload(payload)
  // A copy: a listener may remove itself.
  for (const listener of Array.from(listeners)) listener(message)
}, () => {})
input.on("data", (chunk: Buffer) => decoder.push(chunk))
input.on("error", () => process.exit(1))

// process.stdout is a tty here: its writes are synchronous, a frame is never split by other output of this process.
const post = (message: unknown) => void process.stdout.write(encodeMessage(message))

init({
  post,
  on: (listener: Listener) => void listeners.add(listener),
  off: (listener: Listener) => void listeners.delete(listener),
  runTests: (state, traces) => runBaseTests("run", state, traces),
  collectTests: (state, traces) => runBaseTests("collect", state, traces),
  setup: setupEnvironment,
  teardown: () => listeners.clear()
})

post(hello)
