/**
 * The `Syscalls` service over an in-memory machine: every call recorded,
 * faults injected, and the machine's answer or its errno.
 */
import type { SyscallsShape } from "../Syscalls.ts"
import type { MemoryMachine } from "./memoryKernel.ts"
import type { Recorder } from "./memoryRecorder.ts"

/** The `Syscalls` service over an in-memory machine. */
export const makeSyscalls = (machine: MemoryMachine, recorder: Recorder): SyscallsShape => ({
  getpid: recorder.total("getpid", () => machine.pid),
  mount: (request) => recorder.call("mount", "mount", request.target, () => machine.mount(request)),
  reboot: (command) =>
    recorder.call("reboot", "reboot", undefined, () => {
      machine.reboots.push(command)
    }),
  sync: recorder.total("sync", () => {
    machine.syncs += 1
  }),
  setClock: (epochMillis) => recorder.call("setClock", "clock_settime", undefined, () => machine.setClock(epochMillis)),
  addEntropy: (bytes) => recorder.call("addEntropy", "ioctl", "/dev/urandom", () => machine.addEntropy(bytes)),
  openConsoleForReading: (device) =>
    recorder.call("openConsoleForReading", "open", device, () => machine.descriptors.open(device)),
  read: (fd, size) => recorder.call("read", "read", undefined, () => machine.descriptors.read(fd, size)),
  readAvailable: (fd, size) =>
    recorder.call("readAvailable", "read", undefined, () => machine.descriptors.readAvailable(fd, size)),
  sethostname: (name) => recorder.call("sethostname", "sethostname", name, () => machine.sethostname(name)),
  finitModule: (file, params, flags) =>
    recorder.call("finitModule", "finit_module", file, () => machine.finitModule(file, params, flags)),
  initModule: (image, params) =>
    recorder.call("initModule", "init_module", undefined, () => machine.initModule(image, params)),
  interfaceFlags: (name) => recorder.call("interfaceFlags", "ioctl", name, () => machine.interfaceFlags(name)),
  setInterfaceFlags: (name, flags) =>
    recorder.call("setInterfaceFlags", "ioctl", name, () => machine.setInterfaceFlags(name, flags)),
  openConsole: (device) => recorder.call("openConsole", "open", device, () => machine.descriptors.open(device)),
  setRawMode: (fd) =>
    recorder.call("setRawMode", "ioctl", undefined, () => {
      const terminal = machine.descriptors.terminal(fd)
      terminal.raw = true
      terminal.cooked = false
    }),
  // open(2) of a terminal as of a console: a regular file opens too, and is no terminal for the ioctls.
  openTerminal: (device) => recorder.call("openTerminal", "open", device, () => machine.descriptors.open(device)),
  setCookedMode: (fd) =>
    recorder.call("setCookedMode", "ioctl", undefined, () => {
      const terminal = machine.descriptors.terminal(fd)
      terminal.raw = false
      terminal.cooked = true
    }),
  setWindowSize: (fd, size) =>
    recorder.call("setWindowSize", "ioctl", undefined, () => machine.descriptors.setWindowSize(fd, size)),
  drain: (fd) =>
    recorder.call("drain", "ioctl", undefined, () => {
      machine.descriptors.terminal(fd).drained = true
    }),
  write: (fd, data) => recorder.call("write", "write", undefined, () => machine.descriptors.write(fd, data)),
  close: (fd) => recorder.call("close", "close", undefined, () => machine.descriptors.close(fd)),
  isTerminal: (fd) => recorder.call("isTerminal", "ioctl", undefined, () => machine.isTerminal(fd)),
  reopenStdio: (device) => recorder.call("reopenStdio", "open", device, () => machine.reopenStdio(device)),
  symlink: (target, link) => recorder.call("symlink", "symlink", link, () => machine.symlink(target, link)),
  mkdirAll: (dir, mode) => recorder.call("mkdirAll", "mkdir", dir, () => machine.mkdirAll(dir, mode)),
  readFile: (file) => recorder.call("readFile", "open", file, () => machine.readFile(file)),
  writeFile: (file, data, mode) => recorder.call("writeFile", "open", file, () => machine.writeFile(file, data, mode)),
  fileType: (file) => recorder.call("fileType", "stat", file, () => machine.fileType(file)),
  glob: (pattern) => recorder.call("glob", "scandir", pattern, () => machine.glob(pattern)),
  zombieChildren: recorder.total("zombieChildren", () => machine.zombieChildren()),
  waitpid: (pid) => recorder.call("waitpid", "waitpid", undefined, () => machine.waitpid(pid))
})
