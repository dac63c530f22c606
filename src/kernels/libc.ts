/**
 * The koffi bindings of libc: the one place where the init calls native code.
 * Nothing is loaded at import; `loadLibc` loads koffi and binds once, the
 * first time the live layer is built.
 *
 * Every call returns what the kernel does: a result of zero or more, or minus
 * the errno, read right after the failing call.
 */
import { Data, Effect } from "effect"
import type * as Koffi from "koffi"
import { IFNAMSIZ } from "../internal/abi.ts"
import { type SyscallNumbers, syscallNumbersFor } from "./syscallNumbers.ts"

/**
 * The live kernel cannot be used here: the host is not Linux, its
 * architecture has no syscall table, or koffi or libc cannot be loaded.
 */
export class LiveKernelUnavailable extends Data.TaggedError("LiveKernelUnavailable")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `the live kernel is unavailable: ${this.reason}`
  }
}

// Values of asm-generic, which x86_64, aarch64 and riscv64 all use.
export const O_RDONLY = 0
export const O_WRONLY = 0o1
export const O_RDWR = 0o2
export const O_NOCTTY = 0o400
export const O_NONBLOCK = 0o4000
export const O_CLOEXEC = 0o2000000
export const F_GETFL = 3
export const F_SETFL = 4
export const AF_INET = 2
export const SOCK_DGRAM = 2
export const SOCK_CLOEXEC = O_CLOEXEC
export const SIOCGIFFLAGS = 0x8913
export const SIOCSIFFLAGS = 0x8914
export const TCGETS = 0x5401
export const TCSETS = 0x5402
/** clock_settime(2)'s clock of the wall time. */
export const CLOCK_REALTIME = 0
/** random(4)'s ioctls: `_IOW('R', 0x03, int[2])`, add entropy; `_IO('R', 0x07)`, reseed the CRNG. */
export const RNDADDENTROPY = 0x40085203
export const RNDRESEEDCRNG = 0x5207
/** With a non-zero argument: wait until the output is sent, what glibc's `tcdrain` does. */
export const TCSBRK = 0x5409
export const CLOCAL = 0o4000
/** Sets a terminal's `struct winsize`. */
export const TIOCSWINSZ = 0x5414

/**
 * Cooked mode: the kernel's termios of a new terminal (`tty_std_termios`,
 * its `INIT_C_CC`), with UTF-8 input (erase takes a whole character) and
 * no modem control (`CLOCAL`: a console has no carrier to wait for).
 * Values of asm-generic/termbits.h.
 */
export const cookedTermios: Omit<Termios, "c_line"> = {
  // ICRNL | IXON | IUTF8
  c_iflag: 0x100 | 0x400 | 0x4000,
  // OPOST | ONLCR
  c_oflag: 0x1 | 0x4,
  // B38400 | CS8 | CREAD | CLOCAL
  c_cflag: 0xf | 0x30 | 0x80 | CLOCAL,
  // ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
  c_lflag: 0x1 | 0x2 | 0x8 | 0x10 | 0x20 | 0x200 | 0x800 | 0x8000,
  // VINTR ^C, VQUIT ^\, VERASE DEL, VKILL ^U, VEOF ^D, VTIME 0, VMIN 1, VSWTC, VSTART ^Q, VSTOP ^S, VSUSP ^Z,
  // VEOL, VREPRINT ^R, VDISCARD ^O, VWERASE ^W, VLNEXT ^V, VEOL2, and the two of NCCS (19) that Linux leaves unused
  c_cc: Uint8Array.of(3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0)
}

/** The kernel's `struct termios` (asm-generic/termbits.h), not glibc's. */
export interface Termios {
  readonly c_iflag: number
  readonly c_oflag: number
  readonly c_cflag: number
  readonly c_lflag: number
  readonly c_line: number
  readonly c_cc: Uint8Array
}

/** The bound functions. Results below zero are minus an errno. */
export interface Libc {
  readonly mount: (source: string, target: string, fsType: string, flags: number, data: string) => number
  readonly reboot: (command: number) => number
  readonly sync: () => void
  readonly getpid: () => number
  readonly sethostname: (name: string) => number
  readonly symlink: (target: string, path: string) => number
  readonly mkdir: (path: string, mode: number) => number
  readonly open: (path: string, flags: number) => number
  readonly close: (fd: number) => number
  readonly dup2: (fd: number, target: number) => number
  /** One `write(2)`: how many bytes of `data` were written. */
  readonly write: (fd: number, data: Uint8Array) => number
  readonly fcntlGet: (fd: number, command: number) => number
  readonly fcntlSet: (fd: number, command: number, value: number) => number
  readonly socket: (domain: number, type: number, protocol: number) => number
  /** `ioctl` with a pointer to a struct, read and written in place. */
  readonly ioctlStruct: (fd: number, request: number, struct: Uint8Array) => number
  /** `ioctl` with an integer argument. */
  readonly ioctlValue: (fd: number, request: number, value: number) => number
  /** `waitpid(2)`: the pid reaped (0 when WNOHANG found it still running) and its wait status. */
  readonly waitpid: (pid: number, options: number) => { readonly pid: number; readonly status: number }
  /** `clock_settime(2)` with a `struct timespec`. */
  readonly clockSettime: (clock: number, timespec: Uint8Array) => number
  /** One `read(2)` into `buffer`: how many bytes were read. */
  readonly read: (fd: number, buffer: Uint8Array) => number
  readonly finitModule: (fd: number, params: string, flags: number) => number
  readonly initModule: (image: Uint8Array, params: string) => number
  /** `getpid` through `syscall(2)` and the table, to prove the table right. */
  readonly syscallGetpid: () => number
  readonly structs: Structs
}

/** The structs passed to `ioctl`, as byte buffers. */
export interface Structs {
  readonly ifreqSize: number
  readonly termiosSize: number
  readonly timespecSize: number
  readonly winsizeSize: number
  /** A `struct timespec` of whole seconds and nanoseconds. */
  readonly timespec: (seconds: bigint, nanoseconds: number) => Uint8Array
  /** A `struct rand_pool_info` holding `bytes`, credited with 8 bits of entropy each. */
  readonly randPoolInfo: (bytes: Uint8Array) => Uint8Array
  /** A `struct ifreq` naming an interface, with `ifr_flags` set. */
  readonly ifreq: (name: string, flags: number) => Uint8Array
  readonly ifreqFlags: (ifreq: Uint8Array) => number
  readonly termios: (termios: Termios) => Uint8Array
  readonly decodeTermios: (termios: Uint8Array) => Termios
  /** A `struct winsize` of rows and columns (no pixel size). */
  readonly winsize: (rows: number, columns: number) => Uint8Array
}

type KoffiModule = typeof import("koffi").default

let bound: Promise<Libc> | undefined

/** Loads koffi and libc and binds them, once per process. */
export const loadLibc: Effect.Effect<Libc, LiveKernelUnavailable> = Effect.suspend(() => {
  if (process.platform !== "linux") {
    return Effect.fail(new LiveKernelUnavailable({ reason: `the host runs ${process.platform}, not Linux` }))
  }
  const numbers = syscallNumbersFor(process.arch)
  if (numbers === undefined) {
    return Effect.fail(
      new LiveKernelUnavailable({ reason: `no system call table for the architecture ${process.arch}` })
    )
  }
  return Effect.tryPromise({
    try: () => (bound ??= bind(numbers)),
    catch: (cause) => {
      bound = undefined
      return new LiveKernelUnavailable({ reason: `koffi cannot bind libc: ${String(cause)}`, cause })
    }
  })
})

const openLibc = (koffi: KoffiModule): Koffi.LibraryHandle => {
  try {
    return koffi.load("libc.so.6")
  } catch (glibcMissing) {
    // Not glibc (musl): libc is among the symbols node itself was linked with.
    try {
      return koffi.load(null)
    } catch {
      throw glibcMissing
    }
  }
}

const declareStructs = (koffi: KoffiModule) => {
  // struct ifmap: 2 unsigned long, 1 unsigned short, 3 unsigned char: 24 bytes on 64-bit.
  const ifmap = koffi.struct({
    mem_start: "unsigned long",
    mem_end: "unsigned long",
    base_addr: "unsigned short",
    irq: "unsigned char",
    dma: "unsigned char",
    port: "unsigned char"
  })
  // struct ifreq (linux/if.h): the name, then a union whose largest members
  // are struct sockaddr (16 bytes) and struct ifmap (24): 40 bytes on 64-bit.
  const ifreq = koffi.struct({
    ifr_name: koffi.array("char", IFNAMSIZ),
    ifr_ifru: koffi.union({
      ifru_addr: koffi.array("uint8", 16),
      ifru_flags: "short",
      ifru_ivalue: "int",
      ifru_map: ifmap,
      ifru_slave: koffi.array("char", IFNAMSIZ),
      ifru_data: "void *"
    })
  })
  // The kernel's struct termios that TCGETS/TCSETS take: NCCS is 19 and there
  // are no speed fields, 36 bytes. glibc's (tcgetattr) has NCCS 32 and speeds.
  const termios = koffi.struct({
    c_iflag: "uint32",
    c_oflag: "uint32",
    c_cflag: "uint32",
    c_lflag: "uint32",
    c_line: "uint8",
    c_cc: koffi.array("uint8", 19, "Typed")
  })
  // struct timespec: time_t (64 bits on the 64-bit architectures with a table) and long nanoseconds.
  const timespec = koffi.struct({ tv_sec: "int64", tv_nsec: "long" })
  // struct rand_pool_info (linux/random.h): entropy_count in bits, buf_size in bytes, then the bytes.
  const randPoolInfo = koffi.struct({ entropy_count: "int", buf_size: "int" })
  // struct winsize (asm-generic/termios.h): four unsigned shorts, 8 bytes.
  const winsize = koffi.struct({ ws_row: "uint16", ws_col: "uint16", ws_xpixel: "uint16", ws_ypixel: "uint16" })
  const flagsOffset = koffi.offsetof(ifreq, "ifr_ifru")
  const structs: Structs = {
    ifreqSize: koffi.sizeof(ifreq),
    termiosSize: koffi.sizeof(termios),
    timespecSize: koffi.sizeof(timespec),
    winsizeSize: koffi.sizeof(winsize),
    timespec: (seconds, nanoseconds) => {
      const buffer = Buffer.alloc(koffi.sizeof(timespec))
      koffi.encode(buffer, 0, timespec, { tv_sec: seconds, tv_nsec: nanoseconds })
      return buffer
    },
    randPoolInfo: (bytes) => {
      const header = koffi.sizeof(randPoolInfo)
      const buffer = Buffer.alloc(header + bytes.byteLength)
      koffi.encode(buffer, 0, randPoolInfo, { entropy_count: bytes.byteLength * 8, buf_size: bytes.byteLength })
      buffer.set(bytes, header)
      return buffer
    },
    ifreq: (name, flags) => {
      const buffer = Buffer.alloc(koffi.sizeof(ifreq))
      buffer.write(name, 0, IFNAMSIZ - 1, "utf8")
      // Only the low 16 bits are settable; the field is a short.
      koffi.encode(buffer, flagsOffset, "unsigned short", flags & 0xffff)
      return buffer
    },
    ifreqFlags: (buffer) => koffi.decode(buffer, flagsOffset, "unsigned short") as number,
    termios: (value) => {
      const buffer = Buffer.alloc(koffi.sizeof(termios))
      koffi.encode(buffer, 0, termios, value)
      return buffer
    },
    decodeTermios: (buffer) => koffi.decode(buffer, termios) as Termios,
    winsize: (rows, columns) => {
      const buffer = Buffer.alloc(koffi.sizeof(winsize))
      koffi.encode(buffer, 0, winsize, { ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 })
      return buffer
    }
  }
  return structs
}

const bind = async (numbers: SyscallNumbers): Promise<Libc> => {
  const koffi = (await import("koffi")).default
  const lib = openLibc(koffi)
  const fail = (result: number | bigint): number => {
    const errno = koffi.errno()
    return Number(result) === -1 ? -errno : Number(result)
  }

  const mount = lib.func(
    "int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)"
  )
  const reboot = lib.func("int reboot(int cmd)")
  const sync = lib.func("void sync(void)")
  const getpid = lib.func("int getpid(void)")
  const sethostname = lib.func("int sethostname(const char *name, size_t len)")
  const symlink = lib.func("int symlink(const char *target, const char *linkpath)")
  const mkdir = lib.func("int mkdir(const char *path, uint32_t mode)")
  const open = lib.func("int open(const char *path, int flags, ...)")
  const close = lib.func("int close(int fd)")
  const dup2 = lib.func("int dup2(int oldfd, int newfd)")
  const write = lib.func("long write(int fd, const void *buf, size_t count)")
  const fcntl = lib.func("int fcntl(int fd, int cmd, ...)")
  const socket = lib.func("int socket(int domain, int type, int protocol)")
  const ioctl = lib.func("int ioctl(int fd, unsigned long request, ...)")
  const syscall = lib.func("long syscall(long number, ...)")
  const waitpid = lib.func("int waitpid(int pid, _Out_ int *status, int options)")
  const clockSettime = lib.func("int clock_settime(int clock, const void *timespec)")
  const readFn = lib.func("long read(int fd, _Out_ void *buf, size_t count)")

  // `fail` reads errno first thing, before any other native call.
  return {
    mount: (source, target, fsType, flags, data) => fail(mount(source, target, fsType, flags, data)),
    // Commands above 2^31 (LINUX_REBOOT_CMD_CAD_ON) are negative as an int.
    reboot: (command) => fail(reboot(command | 0)),
    sync: () => {
      sync()
    },
    getpid: () => getpid() as number,
    sethostname: (name) => fail(sethostname(name, Buffer.byteLength(name))),
    symlink: (target, path) => fail(symlink(target, path)),
    mkdir: (path, mode) => fail(mkdir(path, mode)),
    open: (path, flags) => fail(open(path, flags)),
    close: (fd) => fail(close(fd)),
    dup2: (fd, target) => fail(dup2(fd, target)),
    write: (fd, data) => fail(write(fd, data, data.byteLength)),
    fcntlGet: (fd, command) => fail(fcntl(fd, command)),
    fcntlSet: (fd, command, value) => fail(fcntl(fd, command, "int", value)),
    socket: (domain, type, protocol) => fail(socket(domain, type, protocol)),
    ioctlStruct: (fd, request, struct) => fail(ioctl(fd, request, "void *", struct)),
    ioctlValue: (fd, request, value) => fail(ioctl(fd, request, "unsigned long", value)),
    waitpid: (pid, options) => {
      const status = [0]
      const result = fail(waitpid(pid, status, options))
      return { pid: result, status: status[0]! }
    },
    clockSettime: (clock, value) => fail(clockSettime(clock, value)),
    read: (fd, buffer) => fail(readFn(fd, buffer, buffer.byteLength)),
    // syscall(2) reads every argument as a long: pass them as such.
    finitModule: (fd, params, flags) =>
      fail(syscall(numbers.finit_module, "long", fd, "const char *", params, "long", flags)),
    initModule: (image, params) =>
      fail(
        syscall(numbers.init_module, "const void *", image, "unsigned long", image.byteLength, "const char *", params)
      ),
    syscallGetpid: () => fail(syscall(numbers.getpid)),
    structs: declareStructs(koffi)
  }
}
