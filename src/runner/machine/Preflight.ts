/**
 * What the runner checks before it boots anything, so that bad input is
 * refused at once with the fix named, instead of a guest that fails
 * minutes later for a reason it cannot tell: more consoles than the
 * transport has, a `--node` that is not a node for the guest, too little
 * memory for the initramfs.
 *
 * @since 0.1.0
 */
import { Data, Effect, FileSystem, Option } from "effect"
import { execFile } from "node:child_process"
import * as Elf from "../../formats/elf.ts"
import { consoleLimit, type Role, type Transport } from "../../protocol/consoles.ts"
import * as Architecture from "./Architecture.ts"

/**
 * Input the runner refuses before booting: `flag` names where it came from
 * (`--memory`, `SYSINIT_KERNEL`, …), `reason` says what is wrong and how to
 * fix it.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{
  readonly flag: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.flag}: ${this.reason}`
  }
}

/** "1 console", "2 consoles", or nothing for none. */
const many = (n: number, one: string, more: string) => n === 0 ? [] : [n === 1 ? `1 ${one}` : `${n} ${more}`]

/**
 * Refuses more consoles than the transport has: console 0, console 1,
 * console 2 when it carries a program's stderr (`exec`), and one per
 * `--output` and `--input`.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkConsoles = (
  transport: Transport,
  consoles: ReadonlyArray<Role>
): Effect.Effect<void, InvalidInput> => {
  const asked = consoles.length
  const limit = consoleLimit[transport]
  if (asked <= limit) return Effect.void
  const count = (role: Role) => consoles.filter((candidate) => candidate === role).length
  const needs = [
    "console 0",
    "stdout",
    ...(count("stderr") > 0 ? ["stderr"] : []),
    ...many(count("output"), "output file", "output files"),
    ...many(count("input"), "input", "inputs"),
    ...(count("terminal") > 0 ? ["the terminal"] : []),
    ...(count("control") > 0 ? ["the control console"] : [])
  ]
  const better = (Object.keys(consoleLimit) as Array<Transport>).find((other) => consoleLimit[other] >= asked)
  return Effect.fail(
    new InvalidInput({
      flag: count("output") > 0 ? "--output" : "--transport",
      reason: `${asked} consoles are needed (${needs.join(", ")}), the ${transport} transport has ${limit}` +
        (better === undefined
          ? `; no transport has ${asked}`
          : `; use --transport ${better}, which has ${consoleLimit[better]}`)
    })
  )
}

const machineNames: Readonly<Record<number, string>> = {
  3: "32-bit x86",
  40: "32-bit ARM",
  62: "x86_64",
  183: "aarch64",
  243: "RISC-V"
}

/**
 * The Node major version the guest's node must have at least.
 *
 * @since 0.1.0
 * @category constants
 */
export const minimumNodeMajor = 24

/**
 * What `node --version` printed says: fine, or why not.
 *
 * @since 0.1.0
 * @category checks
 */
export const judgeNodeVersion = (printed: string): string | undefined => {
  const match = /^v(\d+)\.\d+\.\d+/.exec(printed.trim())
  if (match === null) {
    return `it is not node: --version printed ${
      printed.trim() === "" ? "nothing" : JSON.stringify(printed.trim().split("\n")[0])
    }`
  }
  return Number(match[1]) >= minimumNodeMajor
    ? undefined
    : `it is Node ${match[1]}, the init needs Node ${minimumNodeMajor} or later`
}

const versionOf = (node: string): Effect.Effect<string> =>
  Effect.callback((resume) => {
    execFile(node, ["--version"], { timeout: 20_000 }, (_error, stdout) => resume(Effect.succeed(String(stdout))))
  })

/**
 * Refuses a `--node` that is not an executable node for the guest: an ELF
 * executable of the guest's architecture, which (when the host can run it)
 * says it is Node 24 or later.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkNode = Effect.fn("Preflight.checkNode")(function*(
  node: string,
  arch: Architecture.Facts = Architecture.all.x86_64
): Effect.fn.Return<void, InvalidInput, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const refuse = (reason: string) => new InvalidInput({ flag: "--node", reason: `${node}: ${reason}` })
  const header = yield* Effect.scoped(Effect.flatMap(fs.open(node), (file) => Elf.readHeader(Elf.fromFile(file))))
    .pipe(Effect.mapError((error) => refuse(`not an ELF executable (${error.message})`)))
  if (header.type !== Elf.ET_EXEC && header.type !== Elf.ET_DYN) return yield* refuse("not an ELF executable")
  if (header.machine !== arch.elfMachine) {
    const other = Architecture.fromElfMachine(header.machine)
    const built = machineNames[header.machine] ?? `ELF machine ${header.machine}`
    return yield* refuse(
      `built for ${built}, the guest is ${arch.name}: ` +
        (Option.isSome(other) ? `pass --arch ${other.value.name}, or give` : "give") + ` a Linux ${arch.name} node`
    )
  }
  const info = yield* fs.stat(node).pipe(Effect.mapError((error) => refuse(error.message)))
  if ((info.mode & 0o111) === 0) return yield* refuse("not executable (chmod +x)")
  if (!Architecture.isHost(arch) || process.platform !== "linux") return
  const judged = judgeNodeVersion(yield* versionOf(node))
  if (judged !== undefined) return yield* refuse(judged)
})

/**
 * The least memory, in MiB, that boots an initramfs of `initramfsBytes`.
 * Without `root=`, the kernel unpacks the archive into a tmpfs whose size
 * is half of the memory it counts when mounting it, and the archive itself
 * is not counted then (it is freed after unpacking): so memory must hold
 * the kernel's own share plus three times the archive. The kernel's share
 * was measured on Debian's 6.1 under QEMU's q35: about 64 MiB, plus its page
 * table of 1/64 of the memory (`struct page`). A 137 MiB initramfs failed
 * to unpack at 470 MiB and booted at 480 (this gives 482); a 237 MiB one
 * failed at 760 and booted at 790 (this gives 787).
 *
 * @since 0.1.0
 * @category checks
 */
export const minimumMemory = (initramfsBytes: number): number =>
  Math.ceil(((3 * initramfsBytes) / 2 ** 20 + 64) * 64 / 63)

/**
 * Refuses `--memory` below `minimumMemory` of the initramfs.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkMemory = (memory: number, initramfsBytes: number): Effect.Effect<void, InvalidInput> => {
  const minimum = minimumMemory(initramfsBytes)
  return memory >= minimum ? Effect.void : Effect.fail(
    new InvalidInput({
      flag: "--memory",
      reason:
        `${memory} MiB is too little for a ${
          (initramfsBytes / 2 ** 20).toFixed(0)
        } MiB initramfs (the kernel unpacks it into a file system of half the memory left beside the archive): ` +
        `give at least ${minimum} MiB`
    })
  )
}
