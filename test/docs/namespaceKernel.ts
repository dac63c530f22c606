/**
 * The live kernel of src/kernels/liveKernel.ts, made to look like the VM the
 * runner boots, for the inits of the docs that test/namespace/docs.test.ts
 * runs unchanged as PID 1 of new namespaces (namespaceHooks.ts puts this
 * module in the place of liveKernel.ts). Only what a namespace cannot be, or
 * what depends on the host, differs:
 * - devtmpfs, which a user namespace refuses, is a tmpfs holding the
 *   namespace's view of /dev/null (as test/namespace/programs/standIns.ts);
 * - the consoles are the runner's default, whatever the host has: console 0
 *   and console 1 on serial ports (the serial table lists those two, and
 *   there are no virtio consoles), and console 1 (/dev/ttyS1) is this
 *   process's stdout, as the runner makes console 1 its own stdout: opening
 *   it gives descriptor 1, and the terminal calls on it (raw mode, drain)
 *   succeed, as does closing it, which leaves stdout open;
 * - /lib/modules holds no module, as in a VM booted without `--add-module`.
 */
import { Effect } from "effect"
import * as Abi from "../../src/internal/abi.ts"
import * as LiveKernel from "../../src/kernels/liveKernel.ts"
import { SyscallError, type SyscallsShape } from "../../src/Syscalls.ts"

export * from "../../src/kernels/liveKernel.ts"

const serialTable = [
  "serinfo:1.0 driver revision:",
  "0: uart:16550A port:000003F8 irq:4 tx:0 rx:0 RTS|CTS|DTR|DSR|CD",
  "1: uart:16550A port:000002F8 irq:3 tx:0 rx:0 RTS|CTS|DTR|DSR|CD",
  "2: uart:unknown port:000003E8 irq:4",
  "3: uart:unknown port:000002E8 irq:3",
  ""
].join("\n")

const consoleOne = "/dev/ttyS1"
const underVirtio = /^\/sys\/(bus\/virtio|class\/virtio-ports)(\/|$)/

export const make: Effect.Effect<SyscallsShape, LiveKernel.LiveKernelUnavailable> = Effect.map(
  LiveKernel.make,
  (kernel): SyscallsShape => {
    // Console 1 is this process's stdout (a socket when node spawned it, which /proc/self/fd cannot reopen).
    const stdout = 1
    let consoleOneOpen = false
    const isConsoleOne = (fd: number) => consoleOneOpen && fd === stdout
    const bind = (source: string, target: string) =>
      kernel.mount({ source, target, fsType: "", flags: Abi.MS_BIND, data: "" })
    return {
      ...kernel,
      mount: (request) => {
        if (request.fsType !== "devtmpfs") return kernel.mount(request)
        return Effect.gen(function*() {
          yield* kernel.writeFile("/tmp/.null", "")
          yield* bind(`${request.target}/null`, "/tmp/.null")
          yield* kernel.mount({ ...request, source: "devtmpfs-standin", fsType: "tmpfs" })
          yield* kernel.writeFile(`${request.target}/null`, "")
          yield* bind("/tmp/.null", `${request.target}/null`)
        })
      },
      readFile: (path) =>
        path === "/proc/tty/driver/serial"
          ? Effect.succeed(new TextEncoder().encode(serialTable))
          : kernel.readFile(path),
      fileType: (path) =>
        underVirtio.test(path) ? Effect.fail(SyscallError.of("stat", "ENOENT", path)) : kernel.fileType(path),
      glob: (pattern) =>
        underVirtio.test(pattern) || pattern.startsWith("/lib/modules/") ? Effect.succeed([]) : kernel.glob(pattern),
      openConsole: (path) =>
        path === consoleOne
          ? Effect.sync(() => {
            consoleOneOpen = true
            return stdout
          })
          : kernel.openConsole(path),
      setRawMode: (fd) => isConsoleOne(fd) ? Effect.void : kernel.setRawMode(fd),
      drain: (fd) => isConsoleOne(fd) ? Effect.void : kernel.drain(fd),
      close: (fd) =>
        isConsoleOne(fd)
          ? Effect.sync(() => {
            consoleOneOpen = false
          })
          : kernel.close(fd)
    }
  }
)
