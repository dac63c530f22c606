/**
 * What `effect-sysinit exec` puts into the guest besides the built-in init:
 * the program (by its kind: ELF, `#!` script, or a file for node), the
 * description the init reads (`/exec.json`), the 9p shares and the host's
 * root, and the kernel modules they need, found in the kernel's module tree.
 * Everything that can be checked on the host is checked here, before a boot.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import * as Elf from "../../formats/elf.ts"
import {
  execDirectory,
  type ExecSpec,
  type HostRootSpec,
  ninePModules,
  type ShareSpec
} from "../../protocol/execSpec.ts"
import * as KernelModules from "../image/KernelModules.ts"
import * as Architecture from "../machine/Architecture.ts"

/**
 * The program cannot run in the guest; says why, before any boot.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProgramUnusable extends Data.TaggedError("ProgramUnusable")<{
  readonly program: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot run ${this.program}: ${this.reason}`
  }
}

/**
 * The kernel cannot mount the shares: it has no 9p (or virtio) built in and
 * no module for it, or its module tree is unknown.
 *
 * @since 0.1.0
 * @category errors
 */
export class KernelLacksModules extends Data.TaggedError("KernelLacksModules")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/**
 * A `--share HOST[:GUEST][:ro]` flag, read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Share {
  readonly host: string
  readonly guest: string
  readonly readOnly: boolean
}

/**
 * Reads `HOST[:GUEST][:ro]`; relative paths are taken from `cwd`, GUEST
 * defaults to HOST's absolute path.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseShare = (text: string, cwd: string): Share | undefined => {
  const parts = text.split(":")
  const readOnly = parts.length > 1 && parts.at(-1) === "ro"
  if (readOnly) parts.pop()
  if (parts.length > 2 || parts[0] === "" || parts.some((part) => part.includes("\0"))) return undefined
  const resolve = (p: string) => normalize(p.startsWith("/") ? p : `${cwd}/${p}`)
  const host = resolve(parts[0]!)
  const guest = parts[1] === undefined || parts[1] === "" ? host : parts[1]
  if (!guest.startsWith("/")) return undefined
  return { host, guest: normalize(guest), readOnly }
}

const normalize = (p: string): string => {
  const out: Array<string> = []
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") out.pop()
    else out.push(part)
  }
  return `/${out.join("/")}`
}

const within = (dir: string, p: string): boolean => dir === "/" || p === dir || p.startsWith(`${dir}/`)

/**
 * A QEMU 9p device: the host directory, its tag, read-only, and whether it
 * spans file systems (the host's root: QEMU remaps inode numbers).
 *
 * @since 0.1.0
 * @category models
 */
export interface NinePDevice {
  readonly tag: string
  readonly path: string
  readonly readOnly: boolean
  readonly multidevs: boolean
}

/**
 * A file for the initramfs: a host file (ELF ones bring their libraries) or bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface GuestFile {
  readonly guest: string
  readonly source: string | Uint8Array
  readonly mode: number
}

/**
 * What the runner adds to the VM for `exec`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly spec: ExecSpec
  readonly files: ReadonlyArray<GuestFile>
  /** Module files of the kernel's tree, for /lib/modules. */
  readonly modules: ReadonlyArray<string>
  readonly devices: ReadonlyArray<NinePDevice>
}

/**
 * How to plan.
 *
 * @since 0.1.0
 * @category models
 */
export interface PlanOptions {
  readonly program: string
  readonly args: ReadonlyArray<string>
  /** The host's working directory. */
  readonly cwd: string
  readonly shares: ReadonlyArray<Share>
  readonly hostRoot: boolean
  /** The guest's architecture: the program's ELF machine must be its. */
  readonly arch: Architecture.Facts
  /** The kernel's module tree (`…/modules/<release>`), when known. */
  readonly moduleTree: string | undefined
  /** Extra `--env K=V` pairs. */
  readonly env: Readonly<Record<string, string>>
  /** The runner's environment (PATH, CI) and whether its stdout is a terminal. */
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  readonly stdoutIsTerminal: boolean
}

/**
 * Where the host's root is mounted in the guest, and what of it is shown.
 *
 * @since 0.1.0
 * @category constants
 */
export const hostRootMountPoint = "/host"
const hostRootDirectories = ["/usr", "/etc", "/opt", "/home"]
const hostRootLinks = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
// The initramfs holds these as directories (libraries at their host paths): a link cannot replace them.
const initramfsDirectories = new Set(["/lib", "/lib64"])
const hostRootTmpfs = ["/tmp", "/run", "/var/tmp", "/root"]
const guestPathWithoutHostRoot = `${execDirectory}:/data:/usr/bin:/bin`

/** The program's kind, read from its first bytes. */
type Kind =
  | { readonly _tag: "Elf"; readonly dynamic: boolean }
  | { readonly _tag: "Script"; readonly interpreter: string; readonly argument: string | undefined }
  | { readonly _tag: "Node" }

const nodeExtensions = /\.(?:js|mjs|cjs|ts|mts|cts)$/

const kindOf = Effect.fnUntraced(function*(program: string, arch: Architecture.Facts) {
  const fs = yield* FileSystem.FileSystem
  const unusable = (reason: string) => new ProgramUnusable({ program, reason })
  const info = yield* fs.stat(program).pipe(Effect.mapError(() => unusable("no such file")))
  if (info.type !== "File") return yield* unusable("not a regular file")
  return yield* Effect.scoped(Effect.gen(function*() {
    const file = yield* fs.open(program)
    const read = Elf.fromFile(file)
    const head = yield* read(0, 256)
    if (head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) {
      const header = yield* Elf.readHeader(read).pipe(
        Effect.mapError((error) => unusable(`not a 64-bit little-endian ELF file (${error.reason})`))
      )
      if (header.machine !== arch.elfMachine) {
        const name = Option.match(Architecture.fromElfMachine(header.machine), {
          onNone: () => `a program for ELF machine ${header.machine}`,
          onSome: (facts) => `an ${facts.name} program`
        })
        return yield* unusable(`${name}, the guest is ${arch.name} (--arch)`)
      }
      if (header.type !== Elf.ET_EXEC && header.type !== Elf.ET_DYN) return yield* unusable("not an ELF executable")
      const dynamic = yield* Elf.readDynamic(read).pipe(
        Effect.mapError((error) => unusable(error._tag === "ElfError" ? error.reason : error.message))
      )
      return { _tag: "Elf", dynamic: dynamic.interpreter !== undefined } satisfies Kind
    }
    if (head[0] === 0x23 && head[1] === 0x21) {
      const line = new TextDecoder().decode(head).split("\n")[0]!.slice(2).trim()
      const [interpreter, ...rest] = line.split(/[ \t]+/)
      if (interpreter === undefined || !interpreter.startsWith("/")) return yield* unusable(`bad #! line: #!${line}`)
      return { _tag: "Script", interpreter, argument: rest.length === 0 ? undefined : rest.join(" ") } satisfies Kind
    }
    if (nodeExtensions.test(program)) return { _tag: "Node" } satisfies Kind
    return yield* unusable("neither an ELF executable, a #! script, nor a .js/.mjs/.ts file for node")
  })).pipe(Effect.catchTag("PlatformError", (error) => Effect.fail(unusable(error.message))))
})

/** The guest path of a host file when it is inside a share, or shown through the host's root. */
const visibleAt = (hostPath: string, options: PlanOptions): string | undefined => {
  for (const share of options.shares.toReversed()) {
    if (within(share.host, hostPath)) return share.guest + hostPath.slice(share.host === "/" ? 0 : share.host.length)
  }
  if (options.hostRoot && hostRootDirectories.some((dir) => within(dir, hostPath))) return hostPath
  return undefined
}

const findInPath = Effect.fnUntraced(function*(name: string, pathVariable: string | undefined) {
  const fs = yield* FileSystem.FileSystem
  for (const dir of (pathVariable ?? "/usr/bin:/bin").split(":")) {
    if (dir === "") continue
    const candidate = `${dir}/${name}`
    if (yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))) return Option.some(candidate)
  }
  return Option.none<string>()
})

// The initramfs links /bin to usr/bin: a file for /bin/x goes to /usr/bin/x.
const initramfsPath = (p: string): string => p.startsWith("/bin/") ? `/usr${p}` : p

/** The module files 9p needs from the kernel's tree, with what they need; nothing for what is built in. */
const ninePModuleFiles = Effect.fnUntraced(function*(tree: string | undefined, purpose: string) {
  if (tree === undefined) {
    return yield* new KernelLacksModules({
      reason:
        `${purpose} needs the kernel's modules, but the kernel's module tree is unknown: give --kernel-modules DIR`
    })
  }
  return yield* KernelModules.closure(tree, ninePModules).pipe(
    Effect.catchTag("ModuleNotInTree", (error) =>
      Effect.fail(
        new KernelLacksModules({
          reason: `${purpose} needs the kernel module ${error.module}${
            error.neededBy === undefined ? "" : ` (needed by ${error.neededBy})`
          }: it is neither built into the kernel nor in ${tree}`
        })
      ))
  )
})

/** The host's root as the guest shows it: its directories bound, its links, fresh tmpfs. */
const hostRootSpec = Effect.fnUntraced(function*() {
  const fs = yield* FileSystem.FileSystem
  const binds: Array<{ source: string; target: string }> = []
  const links: Array<{ path: string; target: string }> = []
  for (const dir of hostRootDirectories) {
    if (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false))) binds.push({ source: dir, target: dir })
  }
  for (const dir of hostRootLinks) {
    const target = yield* fs.readLink(dir).pipe(Effect.option)
    if (Option.isSome(target)) {
      const resolved = normalize(target.value.startsWith("/") ? target.value : `/${target.value}`)
      if (initramfsDirectories.has(dir)) binds.push({ source: resolved, target: dir })
      else links.push({ path: dir, target: target.value })
    } else if (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false))) {
      binds.push({ source: dir, target: dir })
    }
  }
  return { tag: "hostroot", mountPoint: hostRootMountPoint, binds, links, tmpfs: hostRootTmpfs } satisfies HostRootSpec
})

/** The program's absolute path on the host: a bare name that is not a file here is looked up in PATH, as exec does. */
const resolveProgram = Effect.fnUntraced(function*(
  program: string,
  cwd: string,
  hostEnv: Readonly<Record<string, string | undefined>>
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const local = path.resolve(cwd, program)
  const bare = !program.includes("/") && !(yield* fs.exists(local).pipe(Effect.orElseSucceed(() => false)))
  const found = bare ? yield* findInPath(program, hostEnv["PATH"]) : Option.none<string>()
  if (bare && Option.isNone(found)) {
    return yield* new ProgramUnusable({ program, reason: "not a file, and not found in PATH" })
  }
  return Option.getOrElse(found, () => local)
})

/**
 * The guest architecture a program asks for, as virtrun picks it: an ELF
 * program's machine (x86_64 or arm64); the host's own for a script, a node
 * program, or an ELF of a machine we do not boot (refused later, naming it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const programArchitecture = Effect.fn("ExecPlan.programArchitecture")(function*(
  program: string,
  cwd: string,
  hostEnv: Readonly<Record<string, string | undefined>>
): Effect.fn.Return<Architecture.Facts, ProgramUnusable | PlatformError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const absolute = yield* resolveProgram(program, cwd, hostEnv)
  const fallback = Option.getOrElse(Architecture.host, () => Architecture.all.x86_64)
  const machine = yield* Effect.scoped(Effect.gen(function*() {
    const read = Elf.fromFile(yield* fs.open(absolute))
    return Option.some((yield* Elf.readHeader(read)).machine)
  })).pipe(Effect.orElseSucceed(() => Option.none<number>()))
  return Option.getOrElse(Option.flatMap(machine, Architecture.fromElfMachine), () => fallback)
})

/**
 * Checks the program and the shares and says what goes into the VM.
 *
 * @since 0.1.0
 * @category constructors
 */
export const plan = Effect.fn("ExecPlan.plan")(function*(
  options: PlanOptions
): Effect.fn.Return<Plan, ProgramUnusable | KernelLacksModules | PlatformError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const files: Array<GuestFile> = []
  const absolute = yield* resolveProgram(options.program, options.cwd, options.hostEnv)
  const native = Architecture.isHost(options.arch)
  if (options.hostRoot && !native) {
    return yield* new ProgramUnusable({
      program: options.program,
      reason: `--host-root shows the host's own userland, which an ${options.arch.name} guest cannot run`
    })
  }
  const kind = yield* kindOf(absolute, options.arch)
  const inPlace = visibleAt(absolute, options)
  const guestProgram = inPlace ?? `${execDirectory}/${path.basename(absolute)}`
  if (inPlace === undefined) {
    files.push({ guest: guestProgram, source: absolute, mode: 0o755 })
    // node reads a .js file by the nearest package.json; the initramfs root's says "module".
    if (kind._tag === "Node") {
      files.push({ guest: `${execDirectory}/package.json`, source: new Uint8Array(), mode: 0o644 })
    }
  }
  if (kind._tag === "Script") {
    const interpreterExists = yield* fs.exists(kind.interpreter).pipe(Effect.orElseSucceed(() => false))
    if (!interpreterExists) {
      return yield* new ProgramUnusable({
        program: absolute,
        reason: `its interpreter ${kind.interpreter} does not exist`
      })
    }
    if (!options.hostRoot && kind.interpreter !== "/usr/bin/node" && !native) {
      return yield* new ProgramUnusable({
        program: absolute,
        reason: `its interpreter ${kind.interpreter} is the host's, not an ${options.arch.name} program`
      })
    }
    if (!options.hostRoot && kind.interpreter !== "/usr/bin/node") {
      // Packed from the host as --add-file packs, at its own path.
      files.push({ guest: initramfsPath(kind.interpreter), source: yield* fs.realPath(kind.interpreter), mode: 0o755 })
      const named = kind.argument?.split(" ")[0]
      if (path.basename(kind.interpreter) === "env" && named !== undefined && named !== "node") {
        const interpreterFound = yield* findInPath(named, options.hostEnv["PATH"])
        if (Option.isNone(interpreterFound)) {
          return yield* new ProgramUnusable({ program: absolute, reason: `${named} of its #! line is not in PATH` })
        }
        files.push({ guest: `/usr/bin/${named}`, source: yield* fs.realPath(interpreterFound.value), mode: 0o755 })
      }
    }
  }

  const shares: Array<ShareSpec> = options.shares.map((share, i) => ({
    tag: `share${i}`,
    guest: share.guest,
    readOnly: share.readOnly
  }))
  const devices: Array<NinePDevice> = options.shares.map((share, i) => ({
    tag: `share${i}`,
    path: share.host,
    readOnly: share.readOnly,
    multidevs: false
  }))
  for (const share of options.shares) {
    const info = yield* fs.stat(share.host).pipe(Effect.option)
    if (Option.isNone(info) || info.value.type !== "Directory") {
      return yield* new ProgramUnusable({ program: absolute, reason: `--share ${share.host}: not a directory` })
    }
  }
  const hostRoot = options.hostRoot ? yield* hostRootSpec() : undefined
  if (hostRoot !== undefined) devices.push({ tag: hostRoot.tag, path: "/", readOnly: true, multidevs: true })

  let modules: ReadonlyArray<string> = []
  if (devices.length > 0) {
    modules = yield* ninePModuleFiles(options.moduleTree, "--share and --host-root (9p over virtio)")
    if (modules.length > 0 && options.moduleTree !== undefined) {
      // Kmod reads which modules the kernel has built in from here, for the dependencies of those it loads.
      files.push({
        guest: "/lib/modules/modules.builtin",
        source: path.join(options.moduleTree, "modules.builtin"),
        mode: 0o644
      })
    }
  }

  const cwd = visibleAt(options.cwd, options) ?? "/"
  const hostEnv = options.hostEnv
  const env: Record<string, string> = {
    PATH: options.hostRoot ? `${execDirectory}:${hostEnv["PATH"] ?? "/usr/bin:/bin"}` : guestPathWithoutHostRoot,
    HOME: "/root",
    TERM: hostEnv["TERM"] ?? "dumb",
    ...(hostEnv["CI"] === undefined ? {} : { CI: hostEnv["CI"] }),
    ...(options.stdoutIsTerminal ? { FORCE_COLOR: "1" } : { NO_COLOR: "1" }),
    ...options.env
  }
  const [command, args] = kind._tag === "Node"
    ? ["node", [guestProgram, ...options.args]] as const
    : [guestProgram, options.args] as const
  return {
    spec: { command, args, cwd, env, hostRoot, shares },
    files,
    modules,
    devices
  }
})
