/**
 * The `NodeProcess` service on the running Node process: signal handlers,
 * the hooks that catch what would end the process, the children Node
 * spawned, stdout redirection and output settling.
 */
import { Duration, Effect } from "effect"
import { ChildProcess, spawn as spawnChild } from "node:child_process"
import * as fs from "node:fs"
import { isValidEnvVariable } from "../internal/environ.ts"
import { ExitRequest } from "../internal/exitRequest.ts"
import { scopedQueue } from "../internal/scopedQueue.ts"
import type { ChildEnd, ChildRequest, NodeProcessShape, ProcessFault } from "../NodeProcess.ts"
import { isErrno, SyscallError } from "../Syscalls.ts"
import { isNodeErrnoError, pause } from "./liveKernel.ts"

/**
 * Writes all bytes with `fs.writeSync`, waiting out EAGAIN: node makes the
 * descriptors of its own TTY stdio non-blocking, and a serial console is slow.
 */
const writeAllSync = (fd: number, bytes: Uint8Array): void => {
  let offset = 0
  while (offset < bytes.byteLength) {
    try {
      offset += fs.writeSync(fd, bytes, offset)
    } catch (error) {
      if (!isNodeErrnoError(error) || (error.code !== "EAGAIN" && error.code !== "EINTR")) throw error
      if (error.code === "EAGAIN") pause(1)
    }
  }
}

const encoder = new TextEncoder()

type StdoutWrite = typeof process.stdout.write
type WriteCallback = (error?: Error | null) => void

const redirectedWrite = (fd: number): StdoutWrite =>
  function write(
    chunk: string | Uint8Array,
    encodingOrCallback?: BufferEncoding | WriteCallback,
    callback?: WriteCallback
  ): boolean {
    const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback
    const encoding = typeof encodingOrCallback === "string" ? encodingOrCallback : "utf8"
    let failure: Error | null = null
    try {
      writeAllSync(fd, typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk)
    } catch (error) {
      // Output of PID 1 must never crash it: a lost line is all a broken console costs.
      failure = error instanceof Error ? error : new Error(String(error))
    }
    if (done !== undefined) process.nextTick(done, failure)
    return true
  } as StdoutWrite

/**
 * The pids of the children Node spawned (child_process, and so Effect's
 * ChildProcess) that have not exited yet. libuv waits for exactly these; if
 * anyone else reaped one, Node would never see it exit.
 */
const nodeChildren = new Set<number>()
let spawnTracked = false

const trackNodeChildren = (): void => {
  if (spawnTracked) return
  spawnTracked = true
  // Every child_process function starts its child with this (undocumented) method.
  const prototype = ChildProcess.prototype as ChildProcess & { spawn: (...args: Array<unknown>) => unknown }
  const spawn = prototype.spawn
  prototype.spawn = function(this: ChildProcess, ...args: Array<unknown>) {
    const result = spawn.apply(this, args)
    const pid = this.pid
    if (pid !== undefined) {
      nodeChildren.add(pid)
      this.once("exit", () => nodeChildren.delete(pid))
    }
    return result
  }
}

/** Kinds of libuv requests that carry output still on its way. */
const pendingOutput = new Set(["FSReqCallback", "FSReqPromise", "WriteWrap", "ShutdownWrap"])
const outputPending = (): boolean => process.getActiveResourcesInfo().some((kind) => pendingOutput.has(kind))
/** How long output may stall, nothing written, before the init stops waiting for it. */
const settleStall = Duration.seconds(30)

/** Bytes this process has written so far (`wchar` of /proc/self/io); undefined without /proc. */
const bytesWritten = (): number | undefined => {
  try {
    const io = fs.readFileSync("/proc/self/io", "latin1")
    const wchar = /^wchar: (\d+)$/m.exec(io)
    return wchar === null ? undefined : Number(wchar[1])
  } catch {
    return undefined
  }
}
const nextTurn = Effect.callback<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const exitCodeOf = (code: unknown): number => {
  const value = Number(code ?? process.exitCode ?? 0)
  return Number.isSafeInteger(value) ? value : 1
}

const spawnError = (error: unknown, command: string): SyscallError =>
  SyscallError.of("spawn", isNodeErrnoError(error) && isErrno(error.code) ? error.code : "EIO", command)

/** Starts the child with node:child_process (so Node tracks it) and waits for its exit. */
const runChild = (request: ChildRequest): Effect.Effect<ChildEnd, SyscallError> =>
  Effect.callback<ChildEnd, SyscallError>((resume) => {
    let child: ChildProcess
    try {
      child = spawnChild(request.command, [...request.args], {
        cwd: request.cwd,
        env: request.env ?? process.env,
        stdio: [request.stdin ?? "ignore", request.stdout, request.stderr]
      })
    } catch (error) {
      resume(Effect.fail(spawnError(error, request.command)))
      return
    }
    let ended = false
    child.once("error", (error) => {
      if (ended) return
      ended = true
      resume(Effect.fail(spawnError(error, request.command)))
    })
    child.once("exit", (code, signal) => {
      if (ended) return
      ended = true
      resume(Effect.succeed(signal === null ? { _tag: "Exited", code: code ?? 0 } : { _tag: "Killed", signal }))
    })
    return Effect.callback<void>((done) => {
      if (ended || child.exitCode !== null || child.signalCode !== null) return done(Effect.void)
      child.once("exit", () => done(Effect.void))
      child.kill("SIGKILL")
    })
  })

/** Hooks into this process; from then on, the children Node spawns are tracked. */
export const make = (): NodeProcessShape => {
  trackNodeChildren()
  let originalStdoutWrite: PropertyDescriptor | undefined
  let stdoutRedirected = false

  return {
    getEnv: (name) => Effect.sync(() => process.env[name]),

    setEnv: (name, value) =>
      Effect.suspend(() => {
        if (!isValidEnvVariable(name, value)) return Effect.fail(SyscallError.of("setenv", "EINVAL", name))
        process.env[name] = value
        return Effect.void
      }),

    signals: (names) =>
      scopedQueue((push) => {
        const handlers = names.map((name) => [name, () => push(name)] as const)
        for (const [name, handler] of handlers) process.on(name, handler)
        return () => {
          for (const [name, handler] of handlers) process.off(name, handler)
        }
      }),

    processFaults: scopedQueue<ProcessFault>((push) => {
      const exit = process.exit
      const onException = (error: unknown) => {
        // process.exit already reported itself before throwing.
        if (!(error instanceof ExitRequest)) push({ _tag: "UncaughtException", error })
      }
      const onRejection = (reason: unknown) => push({ _tag: "UnhandledRejection", reason })
      // One more turn first: a signal already delivered is read from libuv's signal pipe in that turn's poll.
      const onEmpty = () => setImmediate(() => push({ _tag: "EventLoopEmpty" }))
      process.exit = ((code?: unknown): never => {
        const request = new ExitRequest(exitCodeOf(code))
        push({ _tag: "ProcessExit", code: request.code })
        throw request
      }) as typeof process.exit
      process.on("uncaughtException", onException)
      process.on("unhandledRejection", onRejection)
      process.on("beforeExit", onEmpty)
      return () => {
        process.exit = exit
        process.off("uncaughtException", onException)
        process.off("unhandledRejection", onRejection)
        process.off("beforeExit", onEmpty)
      }
    }),

    spawnedChildren: Effect.sync(() => new Set(nodeChildren)),

    // Waits as long as the output makes progress: 16 MiB over a serial console of a loaded host takes minutes.
    settleOutput: Effect.gen(function*() {
      // A stream opens on a later tick: let the event loop turn once, so the opens it deferred are in flight.
      yield* nextTurn
      if (!outputPending()) return
      let deadline = Date.now() + Duration.toMillis(settleStall)
      let written = bytesWritten()
      while (outputPending() && Date.now() < deadline) {
        yield* Effect.sleep(5)
        yield* nextTurn
        const now = bytesWritten()
        if (now !== undefined && now !== written) {
          written = now
          deadline = Date.now() + Duration.toMillis(settleStall)
        }
      }
    }),

    writeStderr: (text) =>
      Effect.sync(() => {
        try {
          writeAllSync(2, encoder.encode(text))
        } catch {
          // Nowhere left to report that the console itself failed.
        }
      }),

    redirectStdout: (fd) =>
      Effect.sync(() => {
        if (!stdoutRedirected) {
          originalStdoutWrite = Object.getOwnPropertyDescriptor(process.stdout, "write")
        }
        if (fd === undefined) {
          if (!stdoutRedirected) return
          if (originalStdoutWrite === undefined) Reflect.deleteProperty(process.stdout, "write")
          else Object.defineProperty(process.stdout, "write", originalStdoutWrite)
          stdoutRedirected = false
          return
        }
        Object.defineProperty(process.stdout, "write", {
          value: redirectedWrite(fd),
          writable: true,
          configurable: true,
          enumerable: false
        })
        stdoutRedirected = true
      }),

    runChild
  }
}
