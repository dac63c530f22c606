/**
 * The `Syscalls` service on the running Linux kernel: kernel calls through
 * the koffi bindings of `libc.ts`, file operations through `node:fs`, both
 * failing with the `SyscallError` the in-memory kernel gives.
 */
import { Duration, Effect } from "effect"
import { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as NodePath from "node:path"
import {
  type FileType,
  isErrno,
  type ProcessFault,
  type ReapedChild,
  SyscallError,
  type SyscallsShape
} from "../Syscalls.ts"
import { IFNAMSIZ, WNOHANG } from "./abi.ts"
import { errnoNumber } from "./errno.ts"
import { ExitRequest } from "./exitRequest.ts"
import {
  AF_INET,
  CLOCAL,
  F_GETFL,
  F_SETFL,
  type Libc,
  LiveKernelUnavailable,
  loadLibc,
  O_CLOEXEC,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  SIOCGIFFLAGS,
  SIOCSIFFLAGS,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  TCGETS,
  TCSBRK,
  TCSETS
} from "./libc.ts"
import { scopedQueue } from "./scopedQueue.ts"
import * as SimpleGlob from "./simpleGlob.ts"

export { LiveKernelUnavailable } from "./libc.ts"

/** Builds the live kernel, loading koffi the first time. */
export const make: Effect.Effect<SyscallsShape, LiveKernelUnavailable> = Effect.map(loadLibc, (libc) => live(libc))

const EINTR = errnoNumber("EINTR")
const EAGAIN = errnoNumber("EAGAIN")
const EEXIST = errnoNumber("EEXIST")
const ENOTTY = errnoNumber("ENOTTY")
const stdioFds = [0, 1, 2]

const kernelCall = (
  syscall: string,
  path: string | undefined,
  call: () => number
): Effect.Effect<number, SyscallError> =>
  Effect.suspend(() => {
    const result = call()
    return result < 0 ? Effect.fail(SyscallError.of(syscall, -result, path)) : Effect.succeed(result)
  })

interface NodeErrnoError {
  readonly code: string
  readonly errno: number
}

const isNodeErrnoError = (error: unknown): error is NodeErrnoError =>
  error instanceof Error && typeof (error as Partial<NodeErrnoError>).code === "string" &&
  typeof (error as Partial<NodeErrnoError>).errno === "number"

const toSyscallError = (syscall: string, path: string | undefined, error: NodeErrnoError): SyscallError =>
  SyscallError.of(syscall, isErrno(error.code) ? error.code : error.errno, path)

/** A `node:fs` call; errors with an errno become `SyscallError`, anything else is a defect. */
const nodeCall = <A>(syscall: string, path: string | undefined, call: () => A): Effect.Effect<A, SyscallError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(call())
    } catch (error) {
      return isNodeErrnoError(error) ? Effect.fail(toSyscallError(syscall, path, error)) : Effect.die(error)
    }
  })

// Made on first use: a start-up snapshot is built where SharedArrayBuffer does not exist.
let sleepBuffer: Int32Array | undefined
/** Blocks the thread for a moment, for a descriptor that is not ready yet. */
const pause = (milliseconds: number): void => {
  Atomics.wait(sleepBuffer ??= new Int32Array(new SharedArrayBuffer(4)), 0, 0, milliseconds)
}

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

// The kernel would cut a longer name to 15 bytes and find another interface: no interface has that name.
const checkInterfaceName = (name: string): Effect.Effect<void, SyscallError> =>
  Buffer.byteLength(name) < IFNAMSIZ ? Effect.void : Effect.fail(SyscallError.of("ioctl", "ENODEV", name))

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

/**
 * The children of this process, from `/proc/self/task/<tid>/children` of
 * each of its threads: a few reads instead of one per process of the
 * machine. Undefined when the kernel has no such files (CONFIG_PROC_CHILDREN).
 */
const childPids = (): ReadonlyArray<number> | undefined => {
  try {
    const pids: Array<number> = []
    for (const task of fs.readdirSync("/proc/self/task")) {
      for (const pid of fs.readFileSync(`/proc/self/task/${task}/children`, "latin1").split(" ")) {
        if (pid !== "") pids.push(Number(pid))
      }
    }
    return pids
  } catch {
    return undefined
  }
}

const allPids = (): ReadonlyArray<number> => fs.readdirSync("/proc").map(Number).filter((pid) => Number.isInteger(pid))

/** The zombie children of this process that Node did not spawn, from /proc/<pid>/stat. */
const orphanZombies = (): ReadonlyArray<number> => {
  const zombies: Array<number> = []
  for (const pid of childPids() ?? allPids()) {
    if (nodeChildren.has(pid)) continue
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    } catch {
      continue
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    if (state === "Z" && Number(ppid) === process.pid) zombies.push(pid)
  }
  return zombies
}

/** Kinds of libuv requests that carry output still on its way. */
const pendingOutput = new Set(["FSReqCallback", "FSReqPromise", "WriteWrap", "ShutdownWrap"])
const settleLimit = Duration.seconds(60)
const nextTurn = Effect.callback<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const exitCodeOf = (code: unknown): number => {
  const value = Number(code ?? process.exitCode ?? 0)
  return Number.isSafeInteger(value) ? value : 1
}

const live = (libc: Libc): SyscallsShape => {
  trackNodeChildren()
  let originalStdoutWrite: PropertyDescriptor | undefined
  let stdoutRedirected = false

  const withInetSocket = (name: string, use: (socket: number) => number): Effect.Effect<number, SyscallError> =>
    Effect.flatMap(
      kernelCall("socket", undefined, () => libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
      (socket) =>
        kernelCall("ioctl", name, () => {
          try {
            return use(socket)
          } finally {
            libc.close(socket)
          }
        })
    )

  return {
    getpid: Effect.sync(() => libc.getpid()),

    mount: ({ data, flags, fsType, source, target }) =>
      Effect.asVoid(kernelCall("mount", target, () => libc.mount(source, target, fsType, flags, data))),

    umount: (target, flags) => Effect.asVoid(kernelCall("umount2", target, () => libc.umount2(target, flags))),

    reboot: (command) => Effect.asVoid(kernelCall("reboot", undefined, () => libc.reboot(command))),

    sync: Effect.sync(() => libc.sync()),

    finitModule: (path, params, flags) =>
      Effect.flatMap(
        kernelCall("open", path, () => libc.open(path, O_RDONLY | O_CLOEXEC)),
        (fd) =>
          Effect.asVoid(kernelCall("finit_module", path, () => {
            try {
              return libc.finitModule(fd, params, flags)
            } finally {
              libc.close(fd)
            }
          }))
      ),

    initModule: (image, params) =>
      Effect.asVoid(kernelCall("init_module", undefined, () => libc.initModule(image, params))),

    interfaceFlags: (name) =>
      Effect.andThen(
        checkInterfaceName(name),
        withInetSocket(name, (socket) => {
          const ifreq = libc.structs.ifreq(name, 0)
          const result = libc.ioctlStruct(socket, SIOCGIFFLAGS, ifreq)
          return result < 0 ? result : libc.structs.ifreqFlags(ifreq)
        })
      ),

    setInterfaceFlags: (name, flags) =>
      Effect.asVoid(Effect.andThen(
        checkInterfaceName(name),
        withInetSocket(name, (socket) => libc.ioctlStruct(socket, SIOCSIFFLAGS, libc.structs.ifreq(name, flags)))
      )),

    openConsole: (path) =>
      kernelCall("open", path, () => libc.open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)),

    setRawMode: (fd) =>
      Effect.gen(function*() {
        const current = Buffer.alloc(libc.structs.termiosSize)
        yield* kernelCall("ioctl", undefined, () => libc.ioctlStruct(fd, TCGETS, current))
        const raw = libc.structs.termios({
          ...libc.structs.decodeTermios(current),
          c_iflag: 0,
          c_oflag: 0,
          c_cflag: CLOCAL,
          c_lflag: 0
        })
        yield* kernelCall("ioctl", undefined, () => libc.ioctlStruct(fd, TCSETS, raw))
        // Opened O_NDELAY so that opening does not wait for carrier; writes must block.
        const status = yield* kernelCall("fcntl", undefined, () => libc.fcntlGet(fd, F_GETFL))
        yield* kernelCall("fcntl", undefined, () => libc.fcntlSet(fd, F_SETFL, status & ~O_NONBLOCK))
      }),

    drain: (fd) => Effect.asVoid(kernelCall("ioctl", undefined, () => libc.ioctlValue(fd, TCSBRK, 1))),

    write: (fd, data) =>
      Effect.suspend(() => {
        let offset = 0
        while (offset < data.byteLength) {
          const result = libc.write(fd, data.subarray(offset))
          if (result === -EINTR) continue
          if (result === -EAGAIN) {
            pause(1)
            continue
          }
          if (result < 0) return Effect.fail(SyscallError.of("write", -result))
          offset += result
        }
        return Effect.void
      }),

    close: (fd) => Effect.asVoid(kernelCall("close", undefined, () => libc.close(fd))),

    isTerminal: (fd) =>
      Effect.suspend(() => {
        const result = libc.ioctlStruct(fd, TCGETS, Buffer.alloc(libc.structs.termiosSize))
        if (result >= 0) return Effect.succeed(true)
        return result === -ENOTTY ? Effect.succeed(false) : Effect.fail(SyscallError.of("ioctl", -result))
      }),

    // Not O_CLOEXEC: when 0, 1 or 2 was closed, open returns it, and dup2 onto itself would keep the flag.
    reopenStdio: (device) =>
      Effect.flatMap(
        kernelCall("open", device, () => libc.open(device, O_RDWR | O_NOCTTY)),
        (fd) =>
          Effect.asVoid(kernelCall("dup2", device, () => {
            try {
              for (const target of stdioFds) {
                const result = target === fd ? fd : libc.dup2(fd, target)
                if (result < 0) return result
              }
              return 0
            } finally {
              if (!stdioFds.includes(fd)) libc.close(fd)
            }
          }))
      ),

    symlink: (target, path) => Effect.asVoid(kernelCall("symlink", path, () => libc.symlink(target, path))),

    readlink: (path) => nodeCall("readlink", path, () => fs.readlinkSync(path)),

    // mkdir(2) for each missing component, as `mkdir -p`: no exception is thrown for an errno, which under TCG
    // costs tens of milliseconds (sysfs answers EPERM for the directories of file systems a kernel lacks).
    mkdirAll: (path, mode) =>
      Effect.suspend(() => {
        if (path === "") return Effect.fail(SyscallError.of("mkdir", "ENOENT", path))
        const absolute = NodePath.posix.resolve("/", path)
        const parts = absolute.split("/").filter((part) => part !== "")
        for (let i = 1; i <= parts.length; i++) {
          const result = libc.mkdir(`/${parts.slice(0, i).join("/")}`, mode)
          if (result >= 0 || result === -EEXIST) continue
          return Effect.fail(SyscallError.of("mkdir", -result, path))
        }
        const stats = fs.statSync(absolute, { throwIfNoEntry: false })
        return stats?.isDirectory() ? Effect.void : Effect.fail(SyscallError.of("mkdir", "EEXIST", path))
      }),

    readFile: (path) => nodeCall("open", path, () => new Uint8Array(fs.readFileSync(path))),

    writeFile: (path, data) => nodeCall("open", path, () => fs.writeFileSync(path, data)),

    fileType: (path) =>
      Effect.flatMap(
        nodeCall("stat", path, () => fs.statSync(path, { throwIfNoEntry: false })),
        (stats): Effect.Effect<FileType, SyscallError> =>
          stats === undefined
            ? Effect.fail(SyscallError.of("stat", "ENOENT", path))
            : Effect.succeed(stats.isFile() ? "file" : stats.isDirectory() ? "directory" : "other")
      ),

    // Relative patterns are taken from "/", the init's working directory.
    glob: (pattern) =>
      nodeCall("scandir", pattern, () => {
        const absolute = NodePath.posix.resolve("/", pattern)
        return SimpleGlob.isSimple(absolute) ? SimpleGlob.globSync(absolute) : fs.globSync(absolute).toSorted()
      }),

    getEnv: Effect.sync(() => {
      const env: Record<string, string> = {}
      for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value
      return env
    }),

    setEnv: (name, value) =>
      Effect.suspend(() => {
        if (name === "" || name.includes("=") || name.includes("\0") || value.includes("\0")) {
          return Effect.fail(SyscallError.of("setenv", "EINVAL", name))
        }
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
      const onEmpty = () => push({ _tag: "EventLoopEmpty" })
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

    reapOrphans: Effect.sync(() => {
      const reaped: Array<ReapedChild> = []
      // A scan that reaps nothing ends it: what is left exited between the scan and the wait, or is not ours.
      for (let progress = true; progress;) {
        progress = false
        for (const pid of orphanZombies()) {
          const result = libc.waitpid(pid, WNOHANG)
          if (result.pid > 0) {
            reaped.push({ pid: result.pid, status: result.status })
            progress = true
          }
        }
      }
      return reaped
    }),

    settleOutput: Effect.gen(function*() {
      const deadline = Date.now() + Duration.toMillis(settleLimit)
      // A stream opens on a later tick: let the event loop turn once, so the opens it deferred are in flight.
      yield* nextTurn
      while (process.getActiveResourcesInfo().some((kind) => pendingOutput.has(kind)) && Date.now() < deadline) {
        yield* Effect.sleep(5)
        yield* nextTurn
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
      })
  }
}
