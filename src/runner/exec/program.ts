/**
 * The program `exec` runs: where it is on the host, what kind it is (an
 * ELF executable, a `#!` script, or a file for node) and which guest
 * architecture it asks for. Checked on the host, before a boot.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Option, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import * as Elf from "../../formats/elf.ts"
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
 * The program's kind, read from its first bytes.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind =
  | { readonly _tag: "Elf"; readonly dynamic: boolean }
  | { readonly _tag: "Script"; readonly interpreter: string; readonly argument: string | undefined }
  | { readonly _tag: "Node" }

const nodeExtensions = /\.(?:js|mjs|cjs|ts|mts|cts)$/

/**
 * The kind of the program at an absolute host path; an ELF program must be
 * of the guest's architecture.
 *
 * @since 0.1.0
 * @category resolution
 */
export const kindOf = Effect.fnUntraced(function*(program: string, arch: Architecture.Facts) {
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

/**
 * The first file called `name` in the directories of a PATH.
 *
 * @since 0.1.0
 * @category resolution
 */
export const findInPath = Effect.fnUntraced(function*(name: string, pathVariable: string | undefined) {
  const fs = yield* FileSystem.FileSystem
  for (const dir of (pathVariable ?? "/usr/bin:/bin").split(":")) {
    if (dir === "") continue
    const candidate = `${dir}/${name}`
    if (yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))) return Option.some(candidate)
  }
  return Option.none<string>()
})

/**
 * The program's absolute path on the host: a bare name that is not a file
 * here is looked up in PATH, as exec does.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolveProgram = Effect.fnUntraced(function*(
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
 * @category resolution
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
