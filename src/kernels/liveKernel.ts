/**
 * The `Syscalls` service on the running Linux kernel: kernel calls through
 * the koffi bindings of `libc.ts`, file operations through `node:fs`, both
 * failing with the `SyscallError` the in-memory kernel gives.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as NodePath from "node:path"
import { IFNAMSIZ, WNOHANG } from "../internal/abi.ts"
import { errnoNumber } from "../internal/errno.ts"
import { isWindowSize } from "../protocol/control.ts"
import { type FileType, isErrno, SyscallError, type SyscallsShape } from "../Syscalls.ts"
import {
  AF_INET,
  CLOCAL,
  CLOCK_REALTIME,
  cookedTermios,
  F_GETFL,
  F_SETFL,
  type Libc,
  type LiveKernelUnavailable,
  loadLibc,
  O_CLOEXEC,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  RNDADDENTROPY,
  RNDRESEEDCRNG,
  SIOCGIFFLAGS,
  SIOCSIFFLAGS,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  TCGETS,
  TCSBRK,
  TCSETS,
  type Termios,
  TIOCSWINSZ
} from "./libc.ts"
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

/** Whether a thrown value is a `node:fs` error carrying an errno. */
export const isNodeErrnoError = (error: unknown): error is NodeErrnoError =>
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
export const pause = (milliseconds: number): void => {
  Atomics.wait(sleepBuffer ??= new Int32Array(new SharedArrayBuffer(4)), 0, 0, milliseconds)
}

// The kernel would cut a longer name to 15 bytes and find another interface: no interface has that name.
const checkInterfaceName = (name: string): Effect.Effect<void, SyscallError> =>
  Buffer.byteLength(name) < IFNAMSIZ ? Effect.void : Effect.fail(SyscallError.of("ioctl", "ENODEV", name))

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

/** The zombie children of this process, from /proc/<pid>/stat. */
const zombieChildren = (): ReadonlyArray<number> => {
  const zombies: Array<number> = []
  for (const pid of childPids() ?? allPids()) {
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

const live = (libc: Libc): SyscallsShape => {
  const makeBlocking = (fd: number) =>
    Effect.gen(function*() {
      const status = yield* kernelCall("fcntl", undefined, () => libc.fcntlGet(fd, F_GETFL))
      yield* kernelCall("fcntl", undefined, () => libc.fcntlSet(fd, F_SETFL, status & ~O_NONBLOCK))
    })

  const setTermios = (fd: number, change: (current: Termios) => Termios) =>
    Effect.gen(function*() {
      const current = Buffer.alloc(libc.structs.termiosSize)
      yield* kernelCall("ioctl", undefined, () => libc.ioctlStruct(fd, TCGETS, current))
      const changed = libc.structs.termios(change(libc.structs.decodeTermios(current)))
      yield* kernelCall("ioctl", undefined, () => libc.ioctlStruct(fd, TCSETS, changed))
    })

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

    reboot: (command) => Effect.asVoid(kernelCall("reboot", undefined, () => libc.reboot(command))),

    sync: Effect.sync(() => libc.sync()),

    sethostname: (name) => Effect.asVoid(kernelCall("sethostname", name, () => libc.sethostname(name))),

    setClock: (epochMillis) =>
      Effect.suspend(() => {
        // The kernel refuses a time before the epoch; so does a timespec whose nanoseconds are negative.
        if (!Number.isFinite(epochMillis) || epochMillis < 0) {
          return Effect.fail(SyscallError.of("clock_settime", "EINVAL"))
        }
        const millis = BigInt(Math.floor(epochMillis))
        const timespec = libc.structs.timespec(millis / 1000n, Number(millis % 1000n) * 1_000_000)
        return Effect.asVoid(kernelCall("clock_settime", undefined, () => libc.clockSettime(CLOCK_REALTIME, timespec)))
      }),

    addEntropy: (bytes) =>
      Effect.flatMap(
        kernelCall("open", "/dev/urandom", () => libc.open("/dev/urandom", O_WRONLY | O_CLOEXEC)),
        (fd) =>
          Effect.asVoid(kernelCall("ioctl", "/dev/urandom", () => {
            try {
              const added = libc.ioctlStruct(fd, RNDADDENTROPY, libc.structs.randPoolInfo(bytes))
              return added < 0 ? added : libc.ioctlValue(fd, RNDRESEEDCRNG, 0)
            } finally {
              libc.close(fd)
            }
          }))
      ),

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

    openConsoleForReading: (path) =>
      kernelCall("open", path, () => libc.open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)),

    // read(2) on the main thread, which waits there. Restored from a saved machine, a guest runs every piece
    // of code anew under TCG (translated at first use): this wakes with a fraction of the code a read on libuv's
    // pool and its callback run (measured: 12.5k translation blocks from the restore to the message, not 31k).
    read: (fd, size) =>
      Effect.suspend(() => {
        const buffer = Buffer.alloc(size)
        for (;;) {
          const result = libc.read(fd, buffer)
          if (result === -EINTR) continue
          // Still O_NDELAY (no setRawMode): wait a moment for input.
          if (result === -EAGAIN) {
            pause(10)
            continue
          }
          if (result < 0) return Effect.fail(SyscallError.of("read", -result))
          return Effect.succeed(new Uint8Array(buffer.subarray(0, result)))
        }
      }),

    readAvailable: (fd, size) =>
      Effect.suspend(() => {
        const buffer = Buffer.alloc(size)
        for (;;) {
          const result = libc.read(fd, buffer)
          if (result === -EINTR) continue
          if (result === -EAGAIN) return Effect.succeed(undefined)
          if (result < 0) return Effect.fail(SyscallError.of("read", -result))
          return Effect.succeed(new Uint8Array(buffer.subarray(0, result)))
        }
      }),

    setRawMode: (fd) =>
      Effect.andThen(
        setTermios(fd, (current) => ({ ...current, c_iflag: 0, c_oflag: 0, c_cflag: CLOCAL, c_lflag: 0 })),
        // Opened O_NDELAY so that opening does not wait for carrier; writes must block.
        makeBlocking(fd)
      ),

    openTerminal: (path) =>
      Effect.flatMap(
        kernelCall("open", path, () => libc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)),
        (fd) => Effect.as(Effect.onError(makeBlocking(fd), () => Effect.sync(() => libc.close(fd))), fd)
      ),

    setCookedMode: (fd) => setTermios(fd, (current) => ({ ...current, ...cookedTermios })),

    setWindowSize: (fd, size) =>
      isWindowSize(size)
        ? Effect.asVoid(kernelCall("ioctl", undefined, () =>
          libc.ioctlStruct(fd, TIOCSWINSZ, libc.structs.winsize(size.rows, size.columns))))
        : Effect.fail(SyscallError.of("ioctl", "EINVAL")),

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

    writeFile: (path, data, mode = 0o644) => nodeCall("open", path, () => fs.writeFileSync(path, data, { mode })),

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

    zombieChildren: Effect.sync(zombieChildren),

    waitpid: (pid) =>
      Effect.suspend(() => {
        const result = libc.waitpid(pid, WNOHANG)
        if (result.pid < 0) return Effect.fail(SyscallError.of("waitpid", -result.pid))
        return Effect.succeed(result.pid === 0 ? undefined : { pid: result.pid, status: result.status })
      })
  }
}
