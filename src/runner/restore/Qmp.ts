/**
 * QEMU's machine protocol (QMP) over a unix socket: the runner's handle on a
 * running QEMU, to stop the guest, save its state, load a saved one and go
 * on. JSON lines: a greeting, then one answer (`return` or `error`) per
 * command, with events (`{"event": …}`) in between, which this client skips.
 *
 * @since 0.1.0
 */
import { Data, Effect, Schedule, type Scope } from "effect"
import * as net from "node:net"

/**
 * QMP could not be reached, or a command failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class QmpError extends Data.TaggedError("QmpError")<{ readonly command: string; readonly reason: string }> {
  override get message(): string {
    return `QEMU's monitor: ${this.command}: ${this.reason}`
  }
}

/**
 * A connected QMP session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  /** Runs a command and gives its `return` value. */
  readonly execute: (command: string, args?: Readonly<Record<string, unknown>>) => Effect.Effect<unknown, QmpError>
}

interface Pending {
  readonly command: string
  readonly resolve: (value: unknown) => void
  readonly reject: (error: QmpError) => void
}

const connectOnce = (path: string): Effect.Effect<net.Socket, QmpError> =>
  Effect.callback<net.Socket, QmpError>((resume) => {
    const socket = net.connect(path)
    const failed = (error: Error) => {
      socket.destroy()
      resume(Effect.fail(new QmpError({ command: "connect", reason: error.message })))
    }
    socket.once("error", failed)
    socket.once("connect", () => {
      socket.off("error", failed)
      resume(Effect.succeed(socket))
    })
  })

/**
 * Connects to the QMP socket at `path` (retrying while QEMU starts and
 * makes it), reads the greeting and enters command mode. The session ends
 * with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = Effect.fn("Qmp.connect")(function*(
  path: string
): Effect.fn.Return<Client, QmpError, Scope.Scope> {
  // Each attempt is acquired on its own: the waits between them stay interruptible (a QEMU that ended before
  // it made its socket ends the run at once, not after the last attempt).
  const socket = yield* Effect.acquireRelease(connectOnce(path), (connected) => Effect.sync(() => connected.destroy()))
    .pipe(Effect.retry({ schedule: Schedule.spaced("5 millis"), times: 2000 }))
  const queue: Array<Pending> = []
  let greeted: ((value: unknown) => void) | undefined
  const greeting = new Promise((resolve) => (greeted = resolve))
  let buffered = ""
  let closed: string | undefined
  const failAll = (reason: string) => {
    closed ??= reason
    for (const pending of queue.splice(0)) pending.reject(new QmpError({ command: pending.command, reason }))
  }
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => {
    buffered += chunk
    let newline = buffered.indexOf("\n")
    while (newline !== -1) {
      const line = buffered.slice(0, newline).trim()
      buffered = buffered.slice(newline + 1)
      newline = buffered.indexOf("\n")
      if (line === "") continue
      const reply = JSON.parse(line) as { QMP?: unknown; event?: unknown; return?: unknown; error?: { desc?: string } }
      if (reply.QMP !== undefined) greeted?.(reply)
      else if (reply.event !== undefined) continue
      else {
        const pending = queue.shift()
        if (pending === undefined) continue
        if (reply.error !== undefined) {
          pending.reject(new QmpError({ command: pending.command, reason: reply.error.desc ?? "failed" }))
        } else pending.resolve(reply.return)
      }
    }
  })
  socket.on("close", () => failAll("QEMU closed its monitor"))
  socket.on("error", (error) => failAll(error.message))
  yield* Effect.promise(() => greeting)
  const execute = (command: string, args?: Readonly<Record<string, unknown>>) =>
    Effect.callback<unknown, QmpError>((resume) => {
      if (closed !== undefined) return resume(Effect.fail(new QmpError({ command, reason: closed })))
      queue.push({
        command,
        resolve: (value) => resume(Effect.succeed(value)),
        reject: (error) => resume(Effect.fail(error))
      })
      socket.write(
        `${JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args })}\n`
      )
    })
  yield* execute("qmp_capabilities")
  return { execute }
})

// Only the devices' state is saved: the guest's RAM is a file of its own (`memory-backend-file`), shared while
// the first boot writes it, mapped privately by each restore (pages read as the guest touches them).
const ignoreShared = { capabilities: [{ capability: "x-ignore-shared", state: true }] }

const shellQuote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`

const poll = <A>(check: Effect.Effect<A | undefined, QmpError>): Effect.Effect<A, QmpError> =>
  Effect.gen(function*() {
    while (true) {
      const value = yield* check
      if (value !== undefined) return value
      yield* Effect.sleep("5 millis")
    }
  })

/**
 * Stops the guest and writes its devices' state to `file` (the RAM stays
 * in its file); QEMU is left stopped.
 *
 * @since 0.1.0
 * @category saving
 */
export const saveState = Effect.fn("Qmp.saveState")(function*(qmp: Client, file: string) {
  yield* qmp.execute("stop")
  yield* qmp.execute("migrate-set-capabilities", ignoreShared)
  yield* qmp.execute("migrate", { uri: `exec:cat > ${shellQuote(file)}` })
  const ended = yield* poll(Effect.map(qmp.execute("query-migrate"), (reply) => {
    const status = (reply as { status?: string }).status
    return status === "completed" || status === "failed" || status === "cancelled" ? status : undefined
  }))
  if (ended !== "completed") return yield* new QmpError({ command: "migrate", reason: `the save ended ${ended}` })
})

/**
 * Loads a saved state into a QEMU started with `-incoming defer`, and runs
 * the guest.
 *
 * @since 0.1.0
 * @category saving
 */
export const loadState = Effect.fn("Qmp.loadState")(function*(qmp: Client, file: string) {
  yield* qmp.execute("migrate-set-capabilities", ignoreShared)
  yield* qmp.execute("migrate-incoming", { uri: `exec:cat ${shellQuote(file)}` })
  const loaded = yield* poll(Effect.map(qmp.execute("query-status"), (reply) => {
    const status = (reply as { status?: string }).status
    return status === "inmigrate" ? undefined : status
  }))
  if (loaded === "paused" || loaded === "postmigrate") yield* qmp.execute("cont")
  else if (loaded !== "running") {
    return yield* new QmpError({ command: "migrate-incoming", reason: `the guest is ${loaded} after the load` })
  }
})
