/**
 * What `effect-sysinit exec` boots: from its command line to the machine,
 * the built-in init's description (`/exec.json`), the program (by its kind:
 * ELF, `#!` script, or a file for node), the 9p shares and the host's root,
 * the kernel modules they need, and the consoles. Everything that can be
 * checked on the host is checked here, before a boot.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Option, Path, Result } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { ChildProcessSpawner } from "effect/process"
import { hostPipePath, inputsVariable, layout, numbersOf, type Transport } from "../../protocol/consoles.ts"
import type { WindowSize } from "../../protocol/control.ts"
import {
  execDirectory,
  type ExecSpec,
  ninePModules,
  runModulesDirectory,
  type ShareSpec,
  type TerminalSpec
} from "../../protocol/execSpec.ts"
import { imageNodePath } from "../image/Initramfs.ts"
import * as SharedLibraries from "../image/SharedLibraries.ts"
import * as Userland from "../image/Userland.ts"
import * as Kernel from "../kernel/Kernel.ts"
import * as KernelModules from "../kernel/KernelModules.ts"
import * as Architecture from "../machine/Architecture.ts"
import type { InvalidInput } from "../machine/Preflight.ts"
import type { NinePShare } from "../machine/qemuCommand.ts"
import { type GuestInput, type GuestSettings, guestSettings } from "./execFlags.ts"
import * as GoTest from "./goTest.ts"
import { type GuestFile, inlined, interpreterFiles, libraryFiles, sameFile } from "./guestFiles.ts"
import { kindOf, programArchitecture, ProgramUnusable, resolveProgram } from "./program.ts"
import { hostRootSpec, hostRootTag, parseShare, type Share, shareTag, visibleAt } from "./shares.ts"

export { ProgramUnusable }

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
 * What `plan` adds to the machine for the program.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProgramPlan {
  /** The description the init is sent. */
  readonly spec: ExecSpec
  /** This run's files (the program, `--add-file`s, …): on the run's share when `spec.runFiles` names them, else for the initramfs. */
  readonly runFiles: ReadonlyArray<GuestFile>
  /** Module files of the kernel's tree that every run's image holds (9p's), for /lib/modules. */
  readonly imageModules: ReadonlyArray<string>
  /** Files every run's image holds (`modules.builtin`, which Kmod reads). */
  readonly imageFiles: ReadonlyArray<GuestFile>
  /** The 9p devices of the shares and the host's root. */
  readonly shares: ReadonlyArray<NinePShare>
}

/**
 * How to plan the program.
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
  /** The runner's environment (PATH, TERM, CI). */
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  /** The variables that make the guest's node colour its output as the runner's stdout would. */
  readonly color: Readonly<Record<string, string>>
  /** The settings the built-in init applies (`--env`, …). */
  readonly guest: GuestSettings
  /** The program's input consoles (`--input`), by number. */
  readonly inputConsoles?: ReadonlyArray<number> | undefined
  /** Host files for /data (`--add-file`) and kernel modules to load before the program (`--add-module`). */
  readonly addFiles?: ReadonlyArray<string> | undefined
  readonly addModules?: ReadonlyArray<string> | undefined
  /**
   * This run's files travel on a 9p share of their own (what a restored
   * machine needs: its image is every run's); else in the initramfs. The
   * kernel must have 9p (`moduleTree`).
   */
  readonly runShare: boolean
  /** The libraries the image holds (node's), which a program's need not bring. */
  readonly imageLibraries?: ReadonlySet<string> | undefined
  /** The node binary the image holds (at `Initramfs.imageNodePath`). */
  readonly imageNode?: string | undefined
  /** Where the guest's libraries are found on the host: `/` for the host's own architecture. */
  readonly sysroot?: string | undefined
  /** Bytes for the program's stdin, which travel as a file of the run (`shell` with a pipe). */
  readonly stdin?: Uint8Array | undefined
  /** The terminal the program runs on (`shell` with a terminal). */
  readonly terminal?: TerminalSpec | undefined
}

const guestPathWithoutHostRoot = `${execDirectory}:/data:/usr/bin:/bin`

/** Where the program's stdin is put in the guest, when the runner read it (`PlanOptions.stdin`). */
export const stdinPath = `${execDirectory}/.stdin`

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

/**
 * Checks the program and the shares and says what goes into the VM for them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const plan = Effect.fn("ExecPlan.plan")(function*(
  options: PlanOptions
): Effect.fn.Return<
  ProgramPlan,
  ProgramUnusable | KernelLacksModules | PlatformError,
  FileSystem.FileSystem | Path.Path
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const files: Array<GuestFile> = [
    ...(options.addFiles ?? []).map((file) => ({ guest: `/data/${path.basename(file)}`, source: file, mode: 0o755 })),
    ...(options.addModules ?? []).map((file) => ({
      guest: `${runModulesDirectory}/${path.basename(file)}`,
      source: file,
      mode: 0o644
    }))
  ]
  if (options.stdin !== undefined) files.push({ guest: stdinPath, source: options.stdin, mode: 0o644 })
  const absolute = yield* resolveProgram(options.program, options.cwd, options.hostEnv)
  const native = Architecture.isHost(options.arch)
  if (options.hostRoot && !native) {
    return yield* new ProgramUnusable({
      program: options.program,
      reason: `--host-root shows the host's own userland, which an ${options.arch.name} guest cannot run`
    })
  }
  const kind = yield* kindOf(absolute, options.arch)
  // The image's own node, when the program is that very file: from the guest's memory rather than over 9p.
  const imageNode = options.imageNode !== undefined && (yield* sameFile(absolute, options.imageNode))
  const inPlace = imageNode ? imageNodePath : visibleAt(absolute, options.shares, options.hostRoot)
  const guestProgram = inPlace ?? `${execDirectory}/${path.basename(absolute)}`
  if (inPlace === undefined) {
    files.push({ guest: guestProgram, source: absolute, mode: 0o755 })
    // node reads a .js file by the nearest package.json; the initramfs root's says "module".
    if (kind._tag === "Node") {
      files.push({ guest: `${execDirectory}/package.json`, source: new Uint8Array(), mode: 0o644 })
    }
  }
  if (kind._tag === "Script") files.push(...(yield* interpreterFiles(kind, absolute, { ...options, native })))

  for (const share of options.shares) {
    const info = yield* fs.stat(share.host).pipe(Effect.option)
    if (Option.isNone(info) || info.value.type !== "Directory") {
      return yield* new ProgramUnusable({ program: absolute, reason: `--share ${share.host}: not a directory` })
    }
  }
  const shareSpecs: Array<ShareSpec> = options.shares.map((share, i) => ({
    tag: shareTag(i),
    guest: share.guest,
    readOnly: share.readOnly
  }))
  const devices: Array<NinePShare> = options.shares.map((share, i) => ({
    tag: shareTag(i),
    path: share.host,
    readOnly: share.readOnly,
    multidevs: false
  }))
  const hostRoot = options.hostRoot ? yield* hostRootSpec() : undefined
  if (hostRoot !== undefined) devices.push({ tag: hostRootTag, path: "/", readOnly: true, multidevs: true })

  const imageFiles: Array<GuestFile> = []
  let imageModules: ReadonlyArray<string> = []
  if (devices.length > 0 || options.runShare) {
    imageModules = yield* ninePModuleFiles(
      options.moduleTree,
      devices.length > 0 ? "--share and --host-root (9p over virtio)" : "a run's own files (9p over virtio)"
    )
    if (imageModules.length > 0 && options.moduleTree !== undefined) {
      // Kmod reads which modules the kernel has built in from here, for the dependencies of those it loads.
      imageFiles.push({
        guest: "/lib/modules/modules.builtin",
        source: path.join(options.moduleTree, "modules.builtin"),
        mode: 0o644
      })
    }
  }
  // On the run's share, an ELF program brings the libraries the image lacks; the init links only what is missing.
  if (options.runShare && !options.hostRoot) files.push(...(yield* libraryFiles(files, absolute, options)))
  // Small files travel in the run itself: a restored guest then mounts no share for them.
  const inlineFiles = options.runShare ? yield* inlined(files) : undefined
  const inline = inlineFiles !== undefined

  const cwd = visibleAt(options.cwd, options.shares, options.hostRoot) ?? "/"
  const hostEnv = options.hostEnv
  const inputs = options.inputConsoles ?? []
  const env: Record<string, string> = {
    PATH: options.hostRoot ? `${execDirectory}:${hostEnv["PATH"] ?? "/usr/bin:/bin"}` : guestPathWithoutHostRoot,
    HOME: "/root",
    TERM: hostEnv["TERM"] ?? "dumb",
    ...(hostEnv["CI"] === undefined ? {} : { CI: hostEnv["CI"] }),
    ...(inputs.length === 0 ? {} : { [inputsVariable]: inputs.map(hostPipePath).join(" ") }),
    ...options.color,
    ...options.guest.env
  }
  const [command, args] = kind._tag === "Node"
    ? ["node", [guestProgram, ...options.args]] as const
    : [guestProgram, options.args] as const
  const spec: ExecSpec = {
    ...options.guest,
    command,
    args,
    cwd,
    env,
    hostRoot,
    shares: shareSpecs,
    ...(options.stdin === undefined ? {} : { stdin: stdinPath }),
    ...(options.terminal === undefined ? {} : { terminal: options.terminal }),
    ...(inline ? { inlineFiles } : options.runShare ? { runFiles: files.map((file) => file.guest) } : {}),
    ...((options.addModules ?? []).length > 0 ? { modules: true } : {})
  }
  return { spec, runFiles: inline ? [] : files, imageModules, imageFiles, shares: devices }
})

/**
 * What the `exec` command line gives.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecInput {
  readonly program: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  readonly color: Readonly<Record<string, string>>
  /** `--arch`; by default the program's own (an ELF's machine), else the host's. */
  readonly arch: Architecture.Facts | undefined
  readonly transport: Transport | undefined
  readonly kernel: string | undefined
  readonly kernelModules: string | undefined
  /** `--share` flags as given. */
  readonly shares: ReadonlyArray<string>
  readonly hostRoot: boolean
  readonly outputs: ReadonlyArray<string>
  readonly inputs: ReadonlyArray<string>
  /** Rewrite go test's file flags (unless `--no-go-test-rewrite`). */
  readonly goTestRewrite: boolean
  readonly guest: GuestInput
  /** `--node`: the guest's node, when not the architecture's. */
  readonly node: string | undefined
  /** `--add-file` and `--add-module`: this run's. */
  readonly addFiles: ReadonlyArray<string>
  readonly addModules: ReadonlyArray<string>
  /** Bytes for the program's stdin (`shell` with a pipe). */
  readonly stdin?: Uint8Array | undefined
  /** The program runs on a terminal of this size, a console of its own (`shell` with a terminal). */
  readonly terminal?: WindowSize | undefined
}

/**
 * The machine of an `exec` run.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecPlan extends ProgramPlan {
  readonly arch: Architecture.Facts
  readonly transport: Transport
  readonly kernel: Kernel.Resolved
  /** Host files of the output consoles: `--output`s, then go test's. */
  readonly outputs: ReadonlyArray<string>
  readonly inputs: ReadonlyArray<string>
  /**
   * Whether the machine may be saved and restored: this run's files travel
   * on a share, so the image is every run's (the kernel has 9p).
   */
  readonly restorable: boolean
}

/**
 * Plans an `exec` run from its command line: reads the shares and the
 * guest's settings, picks the architecture, finds the kernel (once),
 * rewrites go test's file flags onto consoles of their own, and plans the
 * program (`plan`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("ExecPlan.make")(function*(
  input: ExecInput
): Effect.fn.Return<
  ExecPlan,
  | ProgramUnusable
  | KernelLacksModules
  | InvalidInput
  | Kernel.KernelNotFound
  | Userland.UserlandNotFound
  | PlatformError,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const unusable = (reason: string) => new ProgramUnusable({ program: input.program, reason })
  const shares: Array<Share> = []
  for (const text of input.shares) {
    const share = parseShare(text, input.cwd)
    if (share === undefined) return yield* unusable(`--share ${text}: expected HOST[:GUEST][:ro]`)
    shares.push(share)
  }
  const guest = guestSettings(input.guest)
  if (Result.isFailure(guest)) return yield* guest.failure
  const arch = input.arch ?? (yield* programArchitecture(input.program, input.cwd, input.hostEnv))
  const found = yield* Kernel.find(input.kernel, arch)
  const kernel: Kernel.Resolved = { ...found, moduleTree: input.kernelModules ?? found.moduleTree }
  const has = (modules: ReadonlyArray<string>) =>
    kernel.moduleTree === undefined
      ? Effect.succeed(false)
      : KernelModules.closure(kernel.moduleTree, modules).pipe(
        Effect.as(true),
        Effect.catchTag("ModuleNotInTree", () => Effect.succeed(false))
      )
  // Virtio consoles when the kernel has them: room for stdout, stderr, outputs, inputs and the control console.
  const transport = input.transport ??
    ((yield* has(arch.transportModules.virtio)) ? "virtio" : arch.defaultTransport)
  const runShare = yield* has(ninePModules)
  const userland = yield* Userland.resolve(arch)
  const imageLibraries = new Set(
    yield* SharedLibraries.resolve([input.node ?? userland.node], arch.librarySearchPath, userland.sysroot).pipe(
      Effect.orElseSucceed((): ReadonlyArray<string> => [])
    )
  )
  const [goTestPort] = numbersOf(layout({ stderr: true, outputs: input.outputs.length + 1 }), "output").slice(-1)
  const goTest = input.goTestRewrite && GoTest.isGoTest(input.args)
    ? GoTest.rewriteGoTestFlags(input.args, input.cwd, goTestPort!)
    : { args: input.args, outputs: [] }
  const outputs = [...input.outputs, ...goTest.outputs]
  const consoles = layout({
    stderr: true,
    outputs: outputs.length,
    inputs: input.inputs.length,
    terminal: input.terminal !== undefined,
    control: true
  })
  const [terminalConsole] = numbersOf(consoles, "terminal")
  const program = yield* plan({
    program: input.program,
    args: goTest.args,
    cwd: input.cwd,
    shares,
    hostRoot: input.hostRoot,
    arch,
    moduleTree: kernel.moduleTree,
    hostEnv: input.hostEnv,
    color: input.color,
    guest: guest.success,
    inputConsoles: numbersOf(consoles, "input"),
    addFiles: input.addFiles,
    addModules: input.addModules,
    runShare,
    imageLibraries,
    imageNode: input.node ?? userland.node,
    sysroot: userland.sysroot,
    stdin: input.stdin,
    terminal: input.terminal === undefined || terminalConsole === undefined
      ? undefined
      : { device: hostPipePath(terminalConsole), windowSize: input.terminal }
  })
  return { ...program, arch, transport, kernel, outputs, inputs: input.inputs, restorable: runShare }
})
