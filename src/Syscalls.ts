/**
 * The one door to the kernel: every other module reaches Linux only through
 * this service, so swapping its Layer swaps the whole machine (`Layer.memory`
 * in tests, `Layer.live` for real).
 *
 * @since 0.1.0
 */
import { Context, Data } from "effect"
import type { Effect } from "effect"
import { errnoDescription, type ErrnoName, errnoName, errnoNumber, isErrnoName } from "./internal/errno.ts"
import type { WindowSize } from "./protocol/control.ts"

export type { ErrnoName } from "./internal/errno.ts"

export type {
  /**
   * A terminal's size in character cells, as `struct winsize` holds it.
   *
   * @since 0.1.0
   * @category models
   */
  WindowSize
}

/**
 * A system call, or a file operation of the process, failed with an errno.
 *
 * @since 0.1.0
 * @category errors
 */
export class SyscallError extends Data.TaggedError("SyscallError")<{
  /** The call that failed, e.g. `"mount"`, `"finit_module"`, `"open"`. */
  readonly syscall: string
  /** The errno's name, e.g. `"ENODEV"`. */
  readonly errno: ErrnoName | (string & {})
  /** The errno's number on this platform. */
  readonly code: number
  /** The path the call was about, when there is one. */
  readonly path?: string | undefined
}> {
  override get message(): string {
    const where = this.path === undefined ? "" : ` ${JSON.stringify(this.path)}`
    return `${this.syscall}${where}: ${this.errno} (${errnoDescription(this.code)})`
  }

  /**
   * Builds the error from an errno given by name or by number.
   *
   * @since 0.1.0
   */
  static of(syscall: string, errno: ErrnoName | number, path?: string): SyscallError {
    if (typeof errno === "number") {
      const code = Math.abs(errno)
      return new SyscallError({ syscall, errno: errnoName(code) ?? `E${code}`, code, path })
    }
    return new SyscallError({ syscall, errno, code: errnoNumber(errno), path })
  }
}

/**
 * Whether a string names an errno of this platform.
 *
 * @since 0.1.0
 * @category guards
 */
export const isErrno: (name: string) => name is ErrnoName = isErrnoName

/**
 * What `mount(2)` takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface MountRequest {
  readonly source: string
  readonly target: string
  readonly fsType: string
  readonly flags: number
  readonly data: string
}

/**
 * What kind of file a path names, following symlinks.
 *
 * @since 0.1.0
 * @category models
 */
export type FileType = "file" | "directory" | "symlink" | "other"

/**
 * A child that was reaped: its pid and wait status.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReapedChild {
  readonly pid: number
  readonly status: number
}

/**
 * The calls the init makes to the kernel. Every failure is a `SyscallError`
 * with the errno Linux gives. What the init needs of its own Node process
 * (signals, stdout, the environment) is `NodeProcess`'s.
 *
 * @since 0.1.0
 * @category models
 */
export interface SyscallsShape {
  readonly getpid: Effect.Effect<number>
  readonly mount: (request: MountRequest) => Effect.Effect<void, SyscallError>
  /** `reboot(2)` with a `LINUX_REBOOT_CMD_*` command. */
  readonly reboot: (command: number) => Effect.Effect<void, SyscallError>
  readonly sync: Effect.Effect<void>
  /** `sethostname(2)`: the name `uname -n`, `/proc/sys/kernel/hostname` and `os.hostname()` give. */
  readonly sethostname: (name: string) => Effect.Effect<void, SyscallError>
  /**
   * `clock_settime(CLOCK_REALTIME)`: sets the wall clock, in milliseconds
   * since the epoch; a time before the epoch is `EINVAL`.
   */
  readonly setClock: (epochMillis: number) => Effect.Effect<void, SyscallError>
  /**
   * Mixes bytes into the kernel's random pool, credited as entropy
   * (`RNDADDENTROPY` on /dev/urandom), and reseeds its generator from the
   * pool (`RNDRESEEDCRNG`), so that what it gives from now on differs from
   * what a copy of this machine gives. Needs `CAP_SYS_ADMIN`.
   */
  readonly addEntropy: (bytes: Uint8Array) => Effect.Effect<void, SyscallError>

  /** `finit_module(2)` on the file at `path`; `flags` may hold `MODULE_INIT_COMPRESSED_FILE`. */
  readonly finitModule: (path: string, params: string, flags: number) => Effect.Effect<void, SyscallError>
  /** `init_module(2)` with an uncompressed module image. */
  readonly initModule: (image: Uint8Array, params: string) => Effect.Effect<void, SyscallError>

  /** `SIOCGIFFLAGS` of a network interface. */
  readonly interfaceFlags: (name: string) => Effect.Effect<number, SyscallError>
  /** `SIOCSIFFLAGS` of a network interface. */
  readonly setInterfaceFlags: (name: string, flags: number) => Effect.Effect<void, SyscallError>

  /** Opens a console device `O_WRONLY | O_NOCTTY | O_NDELAY | O_CLOEXEC` and returns its descriptor. */
  readonly openConsole: (path: string) => Effect.Effect<number, SyscallError>
  /** Opens a console device for reading, `O_RDONLY | O_NOCTTY | O_NDELAY | O_CLOEXEC`; `setRawMode` makes reads block. */
  readonly openConsoleForReading: (path: string) => Effect.Effect<number, SyscallError>
  /**
   * Reads at least one byte and at most `size` from a descriptor, waiting
   * until there are some (the live kernel holds the process there, as
   * read(2) does); empty at the end of the input.
   */
  readonly read: (fd: number, size: number) => Effect.Effect<Uint8Array, SyscallError>
  /**
   * Reads up to `size` bytes that are there now, without waiting: undefined
   * when there are none yet (`EAGAIN`; on the live kernel, of a descriptor
   * opened `O_NDELAY` by `openConsoleForReading` and left so), empty at the
   * end of the input. For reading while the process goes on with other work.
   */
  readonly readAvailable: (fd: number, size: number) => Effect.Effect<Uint8Array | undefined, SyscallError>
  /** Raw mode (`c_cflag = CLOCAL`, no input, output or line processing) and blocking writes. */
  readonly setRawMode: (fd: number) => Effect.Effect<void, SyscallError>
  /**
   * Opens a terminal for a program's stdin, stdout and stderr,
   * `O_RDWR | O_NOCTTY | O_CLOEXEC`: without waiting for a carrier, then
   * blocking, as a program expects its stdio.
   */
  readonly openTerminal: (path: string) => Effect.Effect<number, SyscallError>
  /**
   * Cooked mode, a new terminal's line discipline as the kernel sets it up:
   * lines edited and echoed, ^C ^\ ^Z raising SIGINT, SIGQUIT, SIGTSTP in the
   * foreground process group, CR read as NL and NL written as CR NL; with
   * UTF-8 input and no modem control (`CLOCAL`).
   */
  readonly setCookedMode: (fd: number) => Effect.Effect<void, SyscallError>
  /**
   * Sets a terminal's size (`TIOCSWINSZ`); when it changes, the kernel sends
   * SIGWINCH to the terminal's foreground process group. Rows or columns
   * that an unsigned short does not hold are `EINVAL`.
   */
  readonly setWindowSize: (fd: number, size: WindowSize) => Effect.Effect<void, SyscallError>
  /** Waits until everything written to a terminal has been sent (`tcdrain`). */
  readonly drain: (fd: number) => Effect.Effect<void, SyscallError>
  /** Writes all of `data`. */
  readonly write: (fd: number, data: Uint8Array) => Effect.Effect<void, SyscallError>
  readonly close: (fd: number) => Effect.Effect<void, SyscallError>
  /** Whether the descriptor is a terminal (`TCGETS` succeeds; `ENOTTY` is false); a closed one is `EBADF`. */
  readonly isTerminal: (fd: number) => Effect.Effect<boolean, SyscallError>
  /**
   * Opens a device `O_RDWR | O_NOCTTY` and makes it the process's stdin,
   * stdout and stderr (`dup2` onto 0, 1 and 2).
   */
  readonly reopenStdio: (device: string) => Effect.Effect<void, SyscallError>

  readonly symlink: (target: string, path: string) => Effect.Effect<void, SyscallError>
  /** Creates a directory and its missing parents; an existing directory is fine. */
  readonly mkdirAll: (path: string, mode: number) => Effect.Effect<void, SyscallError>
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, SyscallError>
  /**
   * Writes a whole file, as `echo -n data > path` does (sysctls, /sys
   * attributes); a file it creates gets `mode` (0644 by default) less the
   * umask's bits, one that exists keeps its own.
   */
  readonly writeFile: (path: string, data: string | Uint8Array, mode?: number) => Effect.Effect<void, SyscallError>
  readonly fileType: (path: string) => Effect.Effect<FileType, SyscallError>
  /** The paths matching a glob pattern, sorted. */
  readonly glob: (pattern: string) => Effect.Effect<ReadonlyArray<string>, SyscallError>

  /** The pids of this process's children that have exited and wait to be reaped (zombies). */
  readonly zombieChildren: Effect.Effect<ReadonlyArray<number>>
  /** `waitpid(pid, WNOHANG)`: the child's status once it has ended, undefined while it runs. */
  readonly waitpid: (pid: number) => Effect.Effect<ReapedChild | undefined, SyscallError>
}

/**
 * The kernel service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Layer, Syscalls } from "effect-sysinit"
 *
 * // What every module does: ask for the service, make calls, get typed errors with the errno Linux gives.
 * const program = Effect.gen(function*() {
 *   const syscalls = yield* Syscalls.Syscalls
 *   yield* syscalls.mkdirAll("/run/app", 0o755)
 *   yield* syscalls.writeFile("/run/app/ready", "1")
 *   console.log(yield* syscalls.fileType("/run/app/ready"))
 *   const error = yield* Effect.flip(syscalls.readFile("/run/app/missing"))
 *   console.log(error.syscall, error.errno, error.path)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Layer.memory())))
 * // prints: file
 * // prints: open ENOENT /run/app/missing
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Syscalls extends Context.Service<Syscalls, SyscallsShape>()("effect-sysinit/Syscalls") {}
