// A stand-in for qemu-system-x86_64, run by node (see fakeQemu.ts, which
// writes the executable that starts it). It reads the scenario file named by
// its first argument and QEMU's own arguments after it, finds the console
// files in the `-chardev file,id=conN,path=…` arguments as QEMU would,
// records its pid and arguments, writes the scenario's text to the consoles
// (console 1's stream first, over many turns of the event loop),
// to its stdout and stderr, and then exits with the scenario's code or waits
// until it is killed.
import * as fs from "node:fs"
import * as net from "node:net"
import { type Scenario, streamByte } from "./fakeQemu.ts"

const [scenarioFile, ...args] = process.argv.slice(2)
const scenario = JSON.parse(fs.readFileSync(scenarioFile!, "utf8")) as Scenario

// QEMU's option syntax: `,` ends a value and `,,` is a literal comma.
const chardevFile = /^file,id=con(\d+),path=((?:[^,]|,,)*)$/
const chardevSocket = /^socket,id=con(\d+),path=((?:[^,]|,,)*)$/
const consoleFiles: Array<string> = []
const consoleSockets: Array<string> = []
for (const [i, arg] of args.entries()) {
  const match = args[i - 1] === "-chardev" ? chardevFile.exec(arg) : null
  if (match !== null) consoleFiles[Number(match[1])] = match[2]!.replaceAll(",,", ",")
  const socket = args[i - 1] === "-chardev" ? chardevSocket.exec(arg) : null
  if (socket !== null) consoleSockets[Number(socket[1])] = socket[2]!.replaceAll(",,", ",")
}

fs.writeFileSync(scenario.record, JSON.stringify({ pid: process.pid, args, consoleFiles }))
// QEMU opens each file chardev with O_TRUNC, then the guest writes.
for (const file of consoleFiles) fs.writeFileSync(file, "")

/** Console 1's stream: `size` bytes of `streamByte`, 64 KiB at a time, one piece per turn of the event loop. */
const streamConsole1 = (size: number): Promise<void> =>
  new Promise((resolve) => {
    const fd = fs.openSync(consoleFiles[1]!, "a")
    const piece = Buffer.alloc(64 * 1024)
    let written = 0
    const next = () => {
      const length = Math.min(piece.length, size - written)
      for (let i = 0; i < length; i++) piece[i] = streamByte(written + i)
      fs.writeSync(fd, piece, 0, length)
      written += length
      if (written < size) setTimeout(next, 1)
      else resolve(fs.closeSync(fd))
    }
    next()
  })

/** The guest's terminal: the first bytes the runner sends, answered; the connection stays, as QEMU's does. */
const playTerminal = (path: string, reply: string): Promise<void> =>
  new Promise((resolve) => {
    const socket = net.connect(path)
    socket.once("data", (data) => socket.write(Buffer.concat([Buffer.from(reply), data]), () => resolve()))
  })

if (scenario.terminal !== undefined) {
  await playTerminal(consoleSockets[scenario.terminal.console]!, scenario.terminal.reply)
}
if (scenario.streamSize !== undefined) await streamConsole1(scenario.streamSize)
// Console 0 last: a guest says its exit code once all it wrote elsewhere is out, and the runner stops at that line.
for (const [i, text] of [...(scenario.consoles ?? []).entries()].toReversed()) fs.appendFileSync(consoleFiles[i]!, text)
if (scenario.stdout !== undefined) fs.writeSync(1, scenario.stdout)
if (scenario.stderr !== undefined) fs.writeSync(2, scenario.stderr)
if (scenario.hang === true) setInterval(() => {}, 60_000)
else process.exitCode = scenario.exitCode ?? 0
