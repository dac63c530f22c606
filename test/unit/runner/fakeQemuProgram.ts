// A stand-in for qemu-system-x86_64, run by node (see fakeQemu.ts, which
// writes the executable that starts it). It reads the scenario file named by
// its first argument and QEMU's own arguments after it, finds the console
// files in the `-chardev file,id=conN,path=…` arguments as QEMU would,
// records its pid and arguments, writes the scenario's text to the consoles
// (console 1's stream first, over many turns of the event loop),
// to its stdout and stderr, and then exits with the scenario's code or waits
// until it is killed.
//
// An init with a ready point (a kernel command line that names the control
// console) is played as exec's built-in init behaves: the boot says the
// ready line on console 0; the guest takes the run message from the control
// console, says the started line, and only then plays the scenario. `-qmp`
// gets a QMP server that saves (`migrate` to `exec:cat > FILE`) and, with
// `-incoming defer`, restores (`migrate-incoming` from `exec:cat FILE`).
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import {
  controlVariable,
  decodeRunMessage,
  decodeWindowSizeMessage,
  formatStartedLine,
  readyLine,
  type RunMessage
} from "../../../src/protocol/control.ts"
import { FrameDecoder } from "../../../src/protocol/frames.ts"
import { type Event, eventsFile, type Scenario, stateMagic, streamByte } from "./fakeQemu.ts"

const [scenarioFile, ...args] = process.argv.slice(2)
const scenario = JSON.parse(fs.readFileSync(scenarioFile!, "utf8")) as Scenario

// QEMU's option syntax: `,` ends a value and `,,` is a literal comma.
const unescape = (value: string): string => value.replaceAll(",,", ",")
const chardevFile = /^file,id=con(\d+),path=((?:[^,]|,,)*)$/
const chardevSocket = /^socket,id=con(\d+),path=((?:[^,]|,,)*)$/
const consoleFiles: Array<string> = []
const consoleSockets: Array<string> = []
for (const [i, arg] of args.entries()) {
  const match = args[i - 1] === "-chardev" ? chardevFile.exec(arg) : null
  if (match !== null) consoleFiles[Number(match[1])] = unescape(match[2]!)
  const socket = args[i - 1] === "-chardev" ? chardevSocket.exec(arg) : null
  if (socket !== null) consoleSockets[Number(socket[1])] = unescape(socket[2]!)
}
const valueOf = (option: string): string | undefined => {
  const at = args.indexOf(option)
  return at < 0 ? undefined : args[at + 1]
}
const qmpPath = /^unix:((?:[^,]|,,)*)/.exec(valueOf("-qmp") ?? "")?.[1]
const qmp = qmpPath === undefined ? undefined : unescape(qmpPath)
const incoming = valueOf("-incoming") === "defer"
const ramObject = args.find((arg, i) => args[i - 1] === "-object" && arg.startsWith("memory-backend-file,"))
const ram = ramObject === undefined ? undefined : {
  bytes: Number(/,size=(\d+)M/.exec(ramObject)![1]) * 2 ** 20,
  path: unescape(/,mem-path=((?:[^,]|,,)*)/.exec(ramObject)![1]!),
  shared: /,share=on/.test(ramObject)
}
const controlConsole = new RegExp(`(?:^| )${controlVariable}=/dev/virtrun(\\d+)`).exec(valueOf("-append") ?? "")?.[1]

const log = (event: Event): void => fs.appendFileSync(eventsFile(scenario.record), `${JSON.stringify(event)}\n`)

fs.writeFileSync(scenario.record, JSON.stringify({ pid: process.pid, args, consoleFiles }))
log({ event: "start", pid: process.pid, args, mode: incoming ? "restore" : "boot", qmp: qmp !== undefined })
// QEMU opens each file chardev with O_TRUNC, then the guest writes.
for (const file of consoleFiles) if (file !== undefined) fs.writeFileSync(file, "")

const fail = (message: string): never => {
  fs.writeSync(2, `qemu-system-x86_64: ${message}\n`)
  process.exit(1)
}

// The guest's RAM: a file QEMU makes (sparse) while it writes through to it; one that must be there to map it privately.
if (ram !== undefined) {
  if (ram.shared) fs.truncateSync((fs.closeSync(fs.openSync(ram.path, "w")), ram.path), ram.bytes)
  else if (!fs.existsSync(ram.path) || fs.statSync(ram.path).size !== ram.bytes) {
    fail(`can't open backing store ${ram.path} for guest RAM`)
  }
}

const append = (console: number, text: string): void => {
  if (consoleFiles[console] !== undefined) fs.appendFileSync(consoleFiles[console]!, text)
}

// What stays open until the fake ends: the control console, QMP's server.
const open: Array<{ readonly close: () => void }> = []

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

/** The scenario: the guest's output, QEMU's own, and how QEMU ends. */
const play = async (): Promise<void> => {
  if (scenario.terminal !== undefined) {
    await playTerminal(consoleSockets[scenario.terminal.console]!, scenario.terminal.reply)
  }
  if (scenario.streamSize !== undefined) await streamConsole1(scenario.streamSize)
  // Console 0 last: a guest says its exit code once all it wrote elsewhere is out, and the runner stops at that line.
  for (const [i, text] of [...(scenario.consoles ?? []).entries()].toReversed()) append(i, text)
  if (scenario.stdout !== undefined) fs.writeSync(1, scenario.stdout)
  if (scenario.stderr !== undefined) fs.writeSync(2, scenario.stderr)
  if (scenario.hang === true) setInterval(() => {}, 60_000)
  else if (scenario.killedBy !== undefined) process.kill(process.pid, scenario.killedBy)
  else {
    process.exitCode = scenario.exitCode ?? 0
    for (const handle of open) handle.close()
  }
}

// The control console, connected at the start as QEMU connects its socket chardevs; what comes is kept for the guest.
const runs: Array<RunMessage> = []
let runCame: (() => void) | undefined
const controlSocket = controlConsole === undefined ? undefined : consoleSockets[Number(controlConsole)]
if (controlSocket !== undefined) {
  const socket = net.connect(controlSocket)
  socket.on("error", () => {})
  open.push({ close: () => socket.destroy() })
  const decoder = new FrameDecoder((payload) => {
    const run = decodeRunMessage(payload)
    if (run !== undefined) {
      runs.push(run)
      runCame?.()
      return
    }
    const size = decodeWindowSizeMessage(payload)
    if (size !== undefined) log({ event: "window size", pid: process.pid, size })
  }, () => {})
  socket.on("data", (data: Buffer) => decoder.push(data))
}

const nextRun = (): Promise<RunMessage> =>
  new Promise((resolve) => {
    const take = () => {
      const run = runs.shift()
      if (run === undefined) runCame = take
      else resolve(run)
    }
    take()
  })

/** The guest at its ready point: takes a run (leaving the first `ignoreRuns` unanswered), says so, plays it. */
const takeRun = async (): Promise<void> => {
  for (let ignored = 0;; ignored++) {
    const message = await nextRun()
    const ignore = ignored < (scenario.ignoreRuns ?? 0)
    log({ event: "run", pid: process.pid, message, ignored: ignore })
    if (ignore) continue
    append(0, formatStartedLine(message.nonce))
    return play()
  }
}

// QMP: the greeting, then an answer per command, an event now and then.
let migration = "none"
let runState = incoming ? "inmigrate" : "running"
if (qmp !== undefined) {
  const connections = new Set<net.Socket>()
  const server = net.createServer((connection) => {
    connections.add(connection)
    connection.on("error", () => {})
    const send = (value: unknown, then?: () => void) => connection.write(`${JSON.stringify(value)}\n`, then)
    send({ QMP: { version: { qemu: { major: 9, minor: 2, micro: 0 }, package: "fake" }, capabilities: ["oob"] } })
    const execute = (request: { readonly execute: string; readonly arguments?: { readonly uri?: string } }) => {
      log({ event: "qmp", pid: process.pid, command: request.execute })
      const uri = request.arguments?.uri ?? ""
      switch (request.execute) {
        case "qmp_capabilities":
        case "migrate-set-capabilities":
          return send({ return: {} })
        case "stop":
          runState = "paused"
          send({ event: "STOP", timestamp: { seconds: 0, microseconds: 0 } })
          return send({ return: {} })
        case "migrate": {
          // QEMU writes the state to the command's stdin.
          migration = "active"
          const writer = spawn("/bin/sh", ["-c", uri.replace(/^exec:/, "")], { stdio: ["pipe", "ignore", "inherit"] })
          writer.on("close", (code) => void (migration = code === 0 ? scenario.save ?? "completed" : "failed"))
          writer.stdin.end(`${stateMagic}${JSON.stringify({ savedBy: process.pid })}\n`)
          return send({ return: {} })
        }
        case "query-migrate":
          return send({ return: { status: migration } })
        case "migrate-incoming": {
          const reader = spawn("/bin/sh", ["-c", uri.replace(/^exec:/, "")], { stdio: ["ignore", "pipe", "inherit"] })
          const chunks: Array<Buffer> = []
          reader.stdout.on("data", (chunk: Buffer) => chunks.push(chunk))
          reader.on("close", () => {
            if (!Buffer.concat(chunks).toString("utf8").startsWith(stateMagic)) {
              fail("load of migration failed: Invalid argument")
            }
            runState = scenario.loadedStatus ?? "paused"
            if (runState === "running") void takeRun()
          })
          return send({ return: {} })
        }
        case "query-status":
          return send({ return: { status: runState, running: runState === "running" } })
        case "cont":
          runState = "running"
          return send({ return: {} }, () => {
            // A guest that never reads its control console: it ends, its run untaken.
            if (scenario.restoredTakesNoRun === true) process.exit(0)
            void takeRun()
          })
        case "quit":
          return send({ return: {} }, () => process.exit(0))
        default:
          return send({
            error: { class: "CommandNotFound", desc: `The command ${request.execute} has not been found` }
          })
      }
    }
    let buffered = ""
    connection.setEncoding("utf8")
    connection.on("data", (chunk: string) => {
      buffered += chunk
      for (let newline = buffered.indexOf("\n"); newline !== -1; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline).trim()
        buffered = buffered.slice(newline + 1)
        if (line !== "") execute(JSON.parse(line))
      }
    })
  })
  server.listen(qmp)
  // QEMU's monitor goes with QEMU.
  open.push({
    close: () => {
      server.close()
      for (const connection of connections) connection.destroy()
    }
  })
}

if (controlConsole === undefined || scenario.neverReady === true) await play()
else if (!incoming) {
  append(0, `${scenario.bootLog ?? "[    0.5] booting\n"}${readyLine}\n`)
  // Detached (the boot that is saved), the control console is QEMU's null chardev: QMP does the rest.
  if (controlSocket !== undefined) await takeRun()
}
