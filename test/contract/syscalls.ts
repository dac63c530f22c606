/**
 * The contract of `Syscalls`: what each call answers, the same on both
 * kernels. The unit tier runs every case on a fresh `Layer.memory()`; the
 * namespace tier runs them all, in order, in one PID 1 on `Layer.live`.
 * So each case makes what it needs itself, under its own directory of
 * /tmp/contract (a tmpfs of the namespace; a directory of the memory kernel),
 * and leaves nothing the next case would see. The unit tier also runs the
 * cases marked `onHost` on `Layer.live` in its own process, under a fresh
 * directory: those that change nothing of the host, whoever runs the tests.
 */
import { Effect } from "effect"
import { IFF_UP } from "../../src/internal/abi.ts"
import { type MountRequest, Syscalls, type SyscallsShape } from "../../src/Syscalls.ts"
import { type ContractCase, fails, succeeds } from "./outcome.ts"

const decoder = new TextDecoder()

const mountOf = (target: string, fsType: string, data = ""): MountRequest => ({
  source: fsType === "" ? "none" : fsType,
  target,
  fsType,
  flags: 0,
  data
})

const inDirectory = <A, E>(
  dir: string,
  use: (syscalls: SyscallsShape) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const syscalls = yield* Syscalls
    yield* syscalls.mkdirAll(dir, 0o755)
    return yield* use(syscalls)
  })

/** A proc of the case's own, so that /proc/sys answers on both kernels. */
const withProc = <A, E>(dir: string, use: (syscalls: SyscallsShape, proc: string) => Effect.Effect<A, E>) =>
  inDirectory(
    `${dir}/proc`,
    (syscalls) => Effect.andThen(syscalls.mount(mountOf(`${dir}/proc`, "proc")), use(syscalls, `${dir}/proc`))
  )

const readText = (syscalls: SyscallsShape, path: string) =>
  Effect.map(syscalls.readFile(path), (bytes) => decoder.decode(bytes))

/** Opens a regular file of the case's own (created empty) as `openConsole` would open a console. */
const openFile = (dir: string) =>
  inDirectory(
    dir,
    (syscalls) => Effect.andThen(syscalls.writeFile(`${dir}/file`, ""), syscalls.openConsole(`${dir}/file`))
  )

/** A descriptor no process has open: far above any it opens, below the kernel's limit of its number. */
const neverOpen = 2 ** 30

// A 65-byte name: one more than __NEW_UTS_LEN.
const longHostName = "h".repeat(65)

/** The table, each case under a directory of its own in `root`. */
export const syscallsContractUnder = (root: string): ReadonlyArray<ContractCase<Syscalls>> => {
  /** The directory of a case. */
  const scratch = (name: string): string => `${root}/${name}`

  /** Mounts `fsType` on a directory, then again on the same one. */
  const mountTwice = (fsType: string) => {
    const target = scratch(`twice-${fsType}`)
    return inDirectory(
      target,
      (syscalls) => Effect.andThen(syscalls.mount(mountOf(target, fsType)), syscalls.mount(mountOf(target, fsType)))
    )
  }

  const stacks = (fsType: string, inUserNamespace?: ContractCase<Syscalls>["inUserNamespace"]) => ({
    name: `${fsType} mounted twice on one point stacks (a new superblock each time)`,
    run: mountTwice(fsType),
    expected: succeeds(),
    ...(inUserNamespace === undefined ? {} : { inUserNamespace })
  })

  /** Types with one superblock per namespace: the second mount on the same point is the same superblock, refused. */
  const busyTwice = (fsType: string, inUserNamespace?: ContractCase<Syscalls>["inUserNamespace"]) => ({
    name: `${fsType} mounted twice on one point is EBUSY`,
    run: mountTwice(fsType),
    expected: fails("mount", "EBUSY", scratch(`twice-${fsType}`)),
    ...(inUserNamespace === undefined ? {} : { inUserNamespace })
  })

  // Not FS_USERNS_MOUNT: a user namespace may not mount these at all.
  const refusedToUserNamespace = (fsType: string) => fails("mount", "EPERM", scratch(`twice-${fsType}`))

  return [
    // mount(2)
    {
      name: "mount on an empty path is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.mount(mountOf("", "tmpfs"))),
      expected: fails("mount", "ENOENT", "")
    },
    {
      name: "mount on a missing directory is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.mount(mountOf(scratch("missing"), "tmpfs"))),
      expected: fails("mount", "ENOENT", scratch("missing"))
    },
    {
      name: "mount of an unknown file system type is ENODEV",
      onHost: { capability: "CAP_SYS_ADMIN", without: fails("mount", "EPERM", scratch("unknown-type")) },
      run: inDirectory(
        scratch("unknown-type"),
        (syscalls) => syscalls.mount(mountOf(scratch("unknown-type"), "nosuchfs"))
      ),
      expected: fails("mount", "ENODEV", scratch("unknown-type"))
    },
    {
      name: "mount of an empty file system type is ENODEV",
      onHost: { capability: "CAP_SYS_ADMIN", without: fails("mount", "EPERM", scratch("empty-type")) },
      run: inDirectory(scratch("empty-type"), (syscalls) => syscalls.mount(mountOf(scratch("empty-type"), ""))),
      expected: fails("mount", "ENODEV", scratch("empty-type"))
    },
    {
      name: "mount on a regular file is ENOTDIR",
      onHost: { capability: "CAP_SYS_ADMIN", without: fails("mount", "EPERM", `${scratch("on-file")}/file`) },
      run: inDirectory(scratch("on-file"), (syscalls) =>
        Effect.andThen(
          syscalls.writeFile(`${scratch("on-file")}/file`, "x"),
          syscalls.mount(mountOf(`${scratch("on-file")}/file`, "tmpfs"))
        )),
      expected: fails("mount", "ENOTDIR", `${scratch("on-file")}/file`)
    },
    {
      name: "tmpfs mounts on a new nested path, with its options",
      run: inDirectory(
        scratch("nested/a/b"),
        (syscalls) => syscalls.mount(mountOf(scratch("nested/a/b"), "tmpfs", "size=1m"))
      ),
      expected: succeeds()
    },
    stacks("tmpfs"),
    stacks("proc"),
    stacks("devpts"),
    stacks("bpf", refusedToUserNamespace("bpf")),
    busyTwice("sysfs"),
    busyTwice("mqueue"),
    busyTwice("devtmpfs", refusedToUserNamespace("devtmpfs")),
    busyTwice("debugfs", refusedToUserNamespace("debugfs")),
    busyTwice("cgroup2", refusedToUserNamespace("cgroup2")),

    // symlink(2)
    {
      name: "a link over an existing link is EEXIST",
      onHost: true,
      run: inDirectory(scratch("links"), (syscalls) =>
        Effect.andThen(
          syscalls.symlink("/proc/kcore", `${scratch("links")}/core`),
          syscalls.symlink("/proc/kcore", `${scratch("links")}/core`)
        )),
      expected: fails("symlink", "EEXIST", `${scratch("links")}/core`)
    },
    {
      name: "a link over a regular file is EEXIST",
      onHost: true,
      run: inDirectory(scratch("link-over-file"), (syscalls) =>
        Effect.andThen(
          syscalls.writeFile(`${scratch("link-over-file")}/file`, "x"),
          syscalls.symlink("/other", `${scratch("link-over-file")}/file`)
        )),
      expected: fails("symlink", "EEXIST", `${scratch("link-over-file")}/file`)
    },
    {
      name: "a link in a missing directory is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.symlink("/x", scratch("no/such/dir/link"))),
      expected: fails("symlink", "ENOENT", scratch("no/such/dir/link"))
    },
    {
      name: "a link to a missing target is made (a dangling link)",
      onHost: true,
      run: inDirectory(scratch("dangling"), (syscalls) => syscalls.symlink("rtc0", `${scratch("dangling")}/rtc`)),
      expected: succeeds()
    },

    // SIOCGIFFLAGS, SIOCSIFFLAGS
    {
      name: "lo comes up, and its flags read back",
      run: Syscalls.use((syscalls) =>
        Effect.gen(function*() {
          const before = yield* syscalls.interfaceFlags("lo")
          yield* syscalls.setInterfaceFlags("lo", before | IFF_UP)
          const after = yield* syscalls.interfaceFlags("lo")
          return { upBefore: (before & IFF_UP) !== 0, upAfter: (after & IFF_UP) !== 0 }
        })
      ),
      expected: succeeds({ upBefore: false, upAfter: true })
    },
    {
      name: "the flags of an unknown interface are ENODEV",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.interfaceFlags("nosuch0")),
      expected: fails("ioctl", "ENODEV", "nosuch0")
    },
    {
      name: "bringing up an unknown interface is ENODEV",
      onHost: { capability: "CAP_NET_ADMIN", without: fails("ioctl", "EPERM", "nosuch0") },
      run: Syscalls.use((syscalls) => syscalls.setInterfaceFlags("nosuch0", IFF_UP)),
      expected: fails("ioctl", "ENODEV", "nosuch0")
    },
    {
      name: "a name of IFNAMSIZ bytes or more is ENODEV, not the interface its first 15 bytes name",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.interfaceFlags("lo-and-a-very-long-name")),
      expected: fails("ioctl", "ENODEV", "lo-and-a-very-long-name")
    },

    // sysctls under /proc/sys
    {
      name: "a net sysctl is written and read back",
      run: withProc(scratch("sysctl"), (syscalls, proc) =>
        Effect.gen(function*() {
          // A new network namespace starts from the host's value: set both values, read each back.
          yield* syscalls.writeFile(`${proc}/sys/net/ipv4/ip_forward`, "1")
          const on = yield* readText(syscalls, `${proc}/sys/net/ipv4/ip_forward`)
          yield* syscalls.writeFile(`${proc}/sys/net/ipv4/ip_forward`, "0")
          return { on, off: yield* readText(syscalls, `${proc}/sys/net/ipv4/ip_forward`) }
        })),
      expected: succeeds({ on: "1\n", off: "0\n" })
    },
    {
      name: "reading an unknown sysctl is ENOENT",
      run: withProc(scratch("sysctl-read"), (syscalls, proc) => syscalls.readFile(`${proc}/sys/net/ipv4/nosuch`)),
      expected: fails("open", "ENOENT", `${scratch("sysctl-read")}/proc/sys/net/ipv4/nosuch`)
    },
    {
      name: "writing an unknown sysctl is ENOENT",
      run: withProc(
        scratch("sysctl-write"),
        (syscalls, proc) => syscalls.writeFile(`${proc}/sys/net/ipv4/nosuch`, "1")
      ),
      expected: fails("open", "ENOENT", `${scratch("sysctl-write")}/proc/sys/net/ipv4/nosuch`)
    },

    // sethostname(2)
    {
      name: "sethostname sets what /proc/sys/kernel/hostname reads",
      run: withProc(
        scratch("hostname"),
        (syscalls, proc) =>
          Effect.andThen(syscalls.sethostname("contract-host"), readText(syscalls, `${proc}/sys/kernel/hostname`))
      ),
      expected: succeeds("contract-host\n")
    },
    {
      name: "a host name of 64 bytes is taken",
      run: Syscalls.use((syscalls) => syscalls.sethostname("h".repeat(64))),
      expected: succeeds()
    },
    {
      name: "a host name longer than 64 bytes is EINVAL",
      onHost: { capability: "CAP_SYS_ADMIN", without: fails("sethostname", "EPERM", longHostName) },
      run: Syscalls.use((syscalls) => syscalls.sethostname(longHostName)),
      expected: fails("sethostname", "EINVAL", longHostName)
    },

    // clock_settime(2)
    {
      name: "the wall clock set before the epoch is EINVAL",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.setClock(-1000)),
      expected: fails("clock_settime", "EINVAL")
    },
    {
      name: "the wall clock is set",
      run: Syscalls.use((syscalls) => syscalls.setClock(Date.now())),
      expected: succeeds(),
      // CAP_SYS_TIME of the first user namespace: a namespace's root has none.
      inUserNamespace: fails("clock_settime", "EPERM")
    },

    // finit_module(2), init_module(2)
    {
      name: "finit_module of a missing file is ENOENT from open",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.finitModule(scratch("missing.ko"), "", 0)),
      expected: fails("open", "ENOENT", scratch("missing.ko"))
    },
    {
      name: "finit_module of a file that is not ELF is ENOEXEC",
      onHost: {
        capability: "CAP_SYS_MODULE",
        with: fails("finit_module", ["ENOEXEC", "ENOSYS"], `${scratch("modules")}/fake.ko`),
        without: fails("finit_module", ["EPERM", "ENOSYS"], `${scratch("modules")}/fake.ko`)
      },
      run: inDirectory(scratch("modules"), (syscalls) =>
        Effect.andThen(
          syscalls.writeFile(`${scratch("modules")}/fake.ko`, "this is not an ELF file\n"),
          syscalls.finitModule(`${scratch("modules")}/fake.ko`, "", 0)
        )),
      expected: fails("finit_module", "ENOEXEC", `${scratch("modules")}/fake.ko`),
      // No CAP_SYS_MODULE in a user namespace (EPERM); a kernel built without modules answers ENOSYS.
      inUserNamespace: fails("finit_module", ["EPERM", "ENOSYS"], `${scratch("modules")}/fake.ko`)
    },
    {
      name: "init_module of bytes that are not ELF is ENOEXEC",
      onHost: {
        capability: "CAP_SYS_MODULE",
        with: fails("init_module", ["ENOEXEC", "ENOSYS"]),
        without: fails("init_module", ["EPERM", "ENOSYS"])
      },
      run: Syscalls.use((syscalls) => syscalls.initModule(new TextEncoder().encode("not an ELF file"), "")),
      expected: fails("init_module", "ENOEXEC"),
      inUserNamespace: fails("init_module", ["EPERM", "ENOSYS"])
    },

    // descriptors: open(2), ioctl(2), write(2), close(2)
    {
      name: "openConsole of a missing device is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.openConsole(scratch("dev/hvc0"))),
      expected: fails("open", "ENOENT", scratch("dev/hvc0"))
    },
    {
      name: "raw mode on a regular file is ENOTTY",
      onHost: true,
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("raw-on-file"))
        return yield* Effect.ensuring(syscalls.setRawMode(fd), Effect.ignore(syscalls.close(fd)))
      }),
      expected: fails("ioctl", "ENOTTY")
    },
    {
      name: "drain of a regular file is ENOTTY",
      onHost: true,
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("drain-file"))
        return yield* Effect.ensuring(syscalls.drain(fd), Effect.ignore(syscalls.close(fd)))
      }),
      expected: fails("ioctl", "ENOTTY")
    },
    {
      name: "a regular file is not a terminal",
      onHost: true,
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("is-terminal"))
        return yield* Effect.ensuring(syscalls.isTerminal(fd), Effect.ignore(syscalls.close(fd)))
      }),
      expected: succeeds(false)
    },
    {
      name: "what is written to a descriptor reaches the file, all of a large buffer",
      onHost: true,
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("large"))
        yield* syscalls.write(fd, new Uint8Array(4 * 1024 * 1024).fill(7))
        yield* syscalls.close(fd)
        return (yield* syscalls.readFile(`${scratch("large")}/file`)).byteLength
      }),
      expected: succeeds(4 * 1024 * 1024)
    },
    {
      name: "a regular file opened for reading reads back its bytes, then nothing at its end",
      onHost: true,
      run: inDirectory(scratch("read-file"), (syscalls) =>
        Effect.gen(function*() {
          const file = `${scratch("read-file")}/file`
          yield* syscalls.writeFile(file, "hello")
          const fd = yield* syscalls.openConsoleForReading(file)
          const read = Effect.gen(function*() {
            const first = decoder.decode(yield* syscalls.read(fd, 3))
            const second = decoder.decode(yield* syscalls.read(fd, 3))
            const end = (yield* syscalls.read(fd, 3)).length
            return [first, second, end]
          })
          return yield* Effect.ensuring(read, Effect.ignore(syscalls.close(fd)))
        })),
      expected: succeeds(["hel", "lo", 0])
    },
    {
      name: "read of a closed descriptor is EBADF",
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("read-closed"))
        yield* syscalls.close(fd)
        return yield* syscalls.read(fd, 1)
      }),
      expected: fails("read", "EBADF")
    },
    {
      name: "write to a closed descriptor is EBADF",
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("write-closed"))
        yield* syscalls.close(fd)
        return yield* syscalls.write(fd, new Uint8Array(1))
      }),
      expected: fails("write", "EBADF")
    },
    {
      name: "close of a closed descriptor is EBADF",
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("close-closed"))
        yield* syscalls.close(fd)
        return yield* syscalls.close(fd)
      }),
      expected: fails("close", "EBADF")
    },
    {
      name: "isTerminal of a closed descriptor is EBADF",
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("is-terminal-closed"))
        yield* syscalls.close(fd)
        return yield* syscalls.isTerminal(fd)
      }),
      expected: fails("ioctl", "EBADF")
    },
    {
      name: "every call on a descriptor that was never open is EBADF, named for its call",
      onHost: true,
      run: Syscalls.use((syscalls) =>
        Effect.forEach(
          [
            syscalls.read(neverOpen, 1),
            syscalls.readAvailable(neverOpen, 1),
            syscalls.write(neverOpen, new Uint8Array(1)),
            syscalls.isTerminal(neverOpen),
            syscalls.setRawMode(neverOpen),
            syscalls.setCookedMode(neverOpen),
            syscalls.setWindowSize(neverOpen, { rows: 24, columns: 80 }),
            syscalls.drain(neverOpen),
            syscalls.close(neverOpen)
          ],
          (call) =>
            Effect.match(call, { onFailure: (error) => `${error.syscall} ${error.errno}`, onSuccess: () => "ok" })
        )
      ),
      expected: succeeds([
        "read EBADF",
        "read EBADF",
        "write EBADF",
        "ioctl EBADF",
        "ioctl EBADF",
        "ioctl EBADF",
        "ioctl EBADF",
        "ioctl EBADF",
        "close EBADF"
      ])
    },
    {
      name: "openTerminal of a missing device is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.openTerminal(scratch("dev/hvc4"))),
      expected: fails("open", "ENOENT", scratch("dev/hvc4"))
    },
    {
      name: "a regular file opened as a terminal opens, and cooked mode on it is ENOTTY",
      onHost: true,
      run: inDirectory(scratch("cooked-file"), (syscalls) =>
        Effect.gen(function*() {
          yield* syscalls.writeFile(`${scratch("cooked-file")}/file`, "")
          const fd = yield* syscalls.openTerminal(`${scratch("cooked-file")}/file`)
          return yield* Effect.ensuring(syscalls.setCookedMode(fd), Effect.ignore(syscalls.close(fd)))
        })),
      expected: fails("ioctl", "ENOTTY")
    },
    {
      name: "a window size on a regular file is ENOTTY",
      onHost: true,
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("winsize-file"))
        return yield* Effect.ensuring(
          syscalls.setWindowSize(fd, { rows: 24, columns: 80 }),
          Effect.ignore(syscalls.close(fd))
        )
      }),
      expected: fails("ioctl", "ENOTTY")
    },
    {
      name: "a window size on a closed descriptor is EBADF",
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("winsize-closed"))
        yield* syscalls.close(fd)
        return yield* syscalls.setWindowSize(fd, { rows: 24, columns: 80 })
      }),
      expected: fails("ioctl", "EBADF")
    },
    {
      name: "a window size that a struct winsize does not hold is EINVAL",
      onHost: true,
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("winsize-large"))
        return yield* Effect.ensuring(
          syscalls.setWindowSize(fd, { rows: 24, columns: 65536 }),
          Effect.ignore(syscalls.close(fd))
        )
      }),
      expected: fails("ioctl", "EINVAL")
    },
    {
      name: "readAvailable of a regular file reads its bytes, then nothing at its end, without waiting",
      onHost: true,
      run: inDirectory(scratch("read-available"), (syscalls) =>
        Effect.gen(function*() {
          const file = `${scratch("read-available")}/file`
          yield* syscalls.writeFile(file, "hello")
          const fd = yield* syscalls.openConsoleForReading(file)
          const read = Effect.gen(function*() {
            const first = yield* syscalls.readAvailable(fd, 3)
            const second = yield* syscalls.readAvailable(fd, 3)
            const end = yield* syscalls.readAvailable(fd, 3)
            return [first, second, end].map((bytes) => bytes === undefined ? "none yet" : decoder.decode(bytes))
          })
          return yield* Effect.ensuring(read, Effect.ignore(syscalls.close(fd)))
        })),
      expected: succeeds(["hel", "lo", ""])
    },
    {
      name: "readAvailable of a closed descriptor is EBADF",
      run: Effect.gen(function*() {
        const syscalls = yield* Syscalls
        const fd = yield* openFile(scratch("read-available-closed"))
        yield* syscalls.close(fd)
        return yield* syscalls.readAvailable(fd, 1)
      }),
      expected: fails("read", "EBADF")
    },
    {
      name: "reopenStdio of a missing device is ENOENT, and stdio stays",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.reopenStdio(scratch("dev/console"))),
      expected: fails("open", "ENOENT", scratch("dev/console"))
    },

    // files
    {
      name: "mkdirAll makes parents and accepts an existing directory; files read back; glob and fileType see them",
      onHost: true,
      run: inDirectory(scratch("files/modules"), (syscalls) =>
        Effect.gen(function*() {
          const dir = scratch("files/modules")
          yield* syscalls.mkdirAll(dir, 0o755)
          yield* syscalls.writeFile(`${dir}/b.ko`, "b")
          yield* syscalls.writeFile(`${dir}/a.ko`, new Uint8Array([0, 1, 2]))
          yield* syscalls.writeFile(`${dir}/c.txt`, "c")
          yield* syscalls.symlink("a.ko", `${dir}/link.ko`)
          return {
            glob: yield* syscalls.glob(`${scratch("files")}/*/*.ko`),
            read: Array.from(yield* syscalls.readFile(`${dir}/a.ko`)),
            types: [
              yield* syscalls.fileType(`${dir}/a.ko`),
              yield* syscalls.fileType(dir),
              yield* syscalls.fileType(`${dir}/link.ko`)
            ]
          }
        })),
      expected: succeeds({
        glob: ["a.ko", "b.ko", "link.ko"].map((file) => `${scratch("files/modules")}/${file}`),
        read: [0, 1, 2],
        // fileType follows links.
        types: ["file", "directory", "file"]
      })
    },
    {
      name: "mkdirAll of an empty path is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.mkdirAll("", 0o755)),
      expected: fails("mkdir", "ENOENT", "")
    },
    {
      name: "mkdirAll over a regular file is EEXIST",
      onHost: true,
      run: inDirectory(scratch("mkdir-over-file"), (syscalls) =>
        Effect.andThen(
          syscalls.writeFile(`${scratch("mkdir-over-file")}/file`, "x"),
          syscalls.mkdirAll(`${scratch("mkdir-over-file")}/file`, 0o755)
        )),
      expected: fails("mkdir", "EEXIST", `${scratch("mkdir-over-file")}/file`)
    },
    {
      name: "mkdirAll under a regular file is ENOTDIR",
      onHost: true,
      run: inDirectory(scratch("mkdir-under-file"), (syscalls) =>
        Effect.andThen(
          syscalls.writeFile(`${scratch("mkdir-under-file")}/file`, "x"),
          syscalls.mkdirAll(`${scratch("mkdir-under-file")}/file/sub`, 0o755)
        )),
      expected: fails("mkdir", "ENOTDIR", `${scratch("mkdir-under-file")}/file/sub`)
    },
    {
      name: "reading a directory is EISDIR",
      onHost: true,
      run: inDirectory(scratch("read-dir"), (syscalls) => syscalls.readFile(scratch("read-dir"))),
      expected: fails("open", "EISDIR", scratch("read-dir"))
    },
    {
      name: "reading a missing file is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.readFile(scratch("nope"))),
      expected: fails("open", "ENOENT", scratch("nope"))
    },
    {
      name: "writing in a missing directory is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.writeFile(scratch("nope/x"), "1")),
      expected: fails("open", "ENOENT", scratch("nope/x"))
    },
    {
      name: "fileType of a missing path is ENOENT",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.fileType(scratch("nope"))),
      expected: fails("stat", "ENOENT", scratch("nope"))
    },
    {
      name: "a glob that matches nothing is empty",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.glob(scratch("nope/*.ko"))),
      expected: succeeds([])
    },

    // children: waitpid(2), /proc/<pid>/stat
    {
      name: "an init that spawned nothing has no zombie children",
      onHost: true,
      run: Syscalls.use((syscalls) => syscalls.zombieChildren),
      expected: succeeds([])
    },
    {
      name: "waitpid of a pid that is not a child (the init itself) is ECHILD",
      onHost: true,
      run: Syscalls.use((syscalls) => Effect.flatMap(syscalls.getpid, (pid) => syscalls.waitpid(pid))),
      expected: fails("waitpid", "ECHILD")
    },
    {
      name: "getpid of the init is 1",
      run: Syscalls.use((syscalls) => syscalls.getpid),
      expected: succeeds(1)
    }
  ]
}

/** The table as the tiers run it: under /tmp/contract (a tmpfs of the namespace; a directory of the memory kernel). */
export const syscallsContract: ReadonlyArray<ContractCase<Syscalls>> = syscallsContractUnder("/tmp/contract")
