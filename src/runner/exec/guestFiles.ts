/**
 * The files a run brings into the guest besides the image's: the program,
 * its interpreter, the libraries an ELF program lacks there, and whether
 * they are few and small enough to travel in the run itself.
 */
import { Effect, FileSystem, Option, Path } from "effect"
import type { ExecSpec } from "../../protocol/execSpec.ts"
import * as SharedLibraries from "../image/SharedLibraries.ts"
import type * as Architecture from "../machine/Architecture.ts"
import { findInPath, type Kind, ProgramUnusable } from "./program.ts"

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
 * The most bytes of this run's files that travel in the run itself rather than on a share. The run
 * comes over the control console (an hvc console of virtio-serial by default) at about 0.6 MB/s
 * under TCG; a share costs its mount and reads in the restored guest. Warm runs of one program,
 * side by side: even at 64 KiB, the share 0.3 s faster at 128 KiB, the run 0.2 s faster at 35 KiB.
 */
export const inlineLimit = 64 * 1024

/** Whether two paths are one file (the same device and inode, links followed). */
export const sameFile = Effect.fnUntraced(function*(a: string, b: string) {
  const fs = yield* FileSystem.FileSystem
  const both = yield* Effect.option(Effect.all([fs.stat(a), fs.stat(b)]))
  if (Option.isNone(both)) return false
  const [first, second] = both.value
  return first.dev === second.dev && Option.getOrUndefined(first.ino) === Option.getOrUndefined(second.ino)
})

// The initramfs links /bin to usr/bin: a file for /bin/x goes to /usr/bin/x.
const initramfsPath = (p: string): string => p.startsWith("/bin/") ? `/usr${p}` : p

/**
 * A `#!` script's interpreter (and the program `env` names), packed from the
 * host as --add-file packs, unless the guest has it: node, or the host's root.
 */
export const interpreterFiles = Effect.fnUntraced(function*(
  kind: Extract<Kind, { readonly _tag: "Script" }>,
  script: string,
  options: {
    readonly hostRoot: boolean
    readonly arch: Architecture.Facts
    readonly native: boolean
    readonly hostEnv: Readonly<Record<string, string | undefined>>
  }
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const interpreterExists = yield* fs.exists(kind.interpreter).pipe(Effect.orElseSucceed(() => false))
  if (!interpreterExists) {
    return yield* new ProgramUnusable({ program: script, reason: `its interpreter ${kind.interpreter} does not exist` })
  }
  if (options.hostRoot || kind.interpreter === "/usr/bin/node") return []
  if (!options.native) {
    return yield* new ProgramUnusable({
      program: script,
      reason: `its interpreter ${kind.interpreter} is the host's, not an ${options.arch.name} program`
    })
  }
  const files: Array<GuestFile> = [
    { guest: initramfsPath(kind.interpreter), source: yield* fs.realPath(kind.interpreter), mode: 0o755 }
  ]
  const named = kind.argument?.split(" ")[0]
  if (path.basename(kind.interpreter) === "env" && named !== undefined && named !== "node") {
    const interpreterFound = yield* findInPath(named, options.hostEnv["PATH"])
    if (Option.isNone(interpreterFound)) {
      return yield* new ProgramUnusable({ program: script, reason: `${named} of its #! line is not in PATH` })
    }
    files.push({ guest: `/usr/bin/${named}`, source: yield* fs.realPath(interpreterFound.value), mode: 0o755 })
  }
  return files
})

/** The libraries the ELF files among `files` need and the image lacks (it has node's at the same paths). */
export const libraryFiles = Effect.fnUntraced(function*(
  files: ReadonlyArray<GuestFile>,
  program: string,
  options: {
    readonly arch: Architecture.Facts
    readonly sysroot?: string | undefined
    readonly imageLibraries?: ReadonlySet<string> | undefined
  }
) {
  const fs = yield* FileSystem.FileSystem
  const elves: Array<string> = []
  for (const file of files) {
    if (typeof file.source === "string" && (yield* SharedLibraries.needsLibraries(file.source))) {
      elves.push(file.source)
    }
  }
  const libraries = yield* SharedLibraries.resolve(elves, options.arch.librarySearchPath, options.sysroot).pipe(
    Effect.catchTag(
      ["SharedLibraryNotFound", "ElfError"],
      (error) => Effect.fail(new ProgramUnusable({ program, reason: error.message }))
    )
  )
  const missing: Array<GuestFile> = []
  for (const library of libraries) {
    if (options.imageLibraries?.has(library) === true) continue
    missing.push({ guest: library, source: yield* fs.realPath(library), mode: 0o755 })
  }
  return missing
})

/** The files as the run carries them (`ExecSpec.inlineFiles`), when they are at most `inlineLimit` bytes in all. */
export const inlined = Effect.fnUntraced(function*(files: ReadonlyArray<GuestFile>) {
  const fs = yield* FileSystem.FileSystem
  let total = 0
  for (const file of files) {
    total += typeof file.source === "string" ? Number((yield* fs.stat(file.source)).size) : file.source.byteLength
  }
  if (total > inlineLimit) return undefined
  const inline: NonNullable<ExecSpec["inlineFiles"]> = yield* Effect.forEach(files, (file) =>
    Effect.map(
      typeof file.source === "string" ? fs.readFile(file.source) : Effect.succeed(file.source),
      (data) => ({ path: file.guest, mode: file.mode, data: Buffer.from(data).toString("base64") })
    ))
  return inline
})
