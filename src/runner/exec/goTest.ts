/**
 * `go test -exec`: go runs `<exec> /tmp/go-build…/pkg.test -test.paniconexit0
 * -test.timeout=10m0s …`. The flags that name files are rewritten, as
 * virtrun does, so that each file comes back to the host path go gave through
 * a console of its own; the directories go gives point at the guest's /tmp.
 * Pure, so that each flag is a row of a table test.
 *
 * @since 0.1.0
 */
import * as NodePath from "node:path"
import { hostPipePath } from "../../protocol/consoles.ts"

/**
 * Whether the arguments are those go gives a test binary: some flag is `-test.<key>`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const isGoTest = (args: ReadonlyArray<string>): boolean => args.some((arg) => /^--?test\.\w/.test(arg))

/** Flags whose relative files are joined to -test.outputdir; -test.coverprofile is used as given. */
const outputDirFlags = new Set(["cpuprofile", "memprofile", "blockprofile", "mutexprofile", "trace"])
const guestDirFlags = new Set(["outputdir", "gocoverdir"])

/**
 * The rewritten arguments, and the host files of consoles `firstPort`,
 * `firstPort + 1`, … in order.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rewritten {
  readonly args: ReadonlyArray<string>
  readonly outputs: ReadonlyArray<string>
}

const flagOf = (arg: string): { readonly key: string; readonly value: string } | undefined => {
  const match = /^--?test\.(\w+)=(.*)$/s.exec(arg)
  return match === null ? undefined : { key: match[1]!, value: match[2]! }
}

/**
 * Rewrites the file flags of a go test binary's arguments: `-test.coverprofile`
 * (relative to `cwd`), and `-test.cpuprofile`, `-test.memprofile`,
 * `-test.blockprofile`, `-test.mutexprofile`, `-test.trace` (relative to
 * `-test.outputdir`, else `cwd`) each become `/dev/virtrun<N>`;
 * `-test.outputdir` and `-test.gocoverdir` become `/tmp`. Other arguments
 * pass unchanged.
 *
 * @since 0.1.0
 * @category rewriting
 */
export const rewriteGoTestFlags = (args: ReadonlyArray<string>, cwd: string, firstPort: number): Rewritten => {
  const outputDir = args.map(flagOf).findLast((flag) => flag?.key === "outputdir")?.value
  const outputs: Array<string> = []
  const rewritten = args.map((arg) => {
    const flag = flagOf(arg)
    if (flag === undefined || flag.value === "") return arg
    if (guestDirFlags.has(flag.key)) return `-test.${flag.key}=/tmp`
    if (flag.key !== "coverprofile" && !outputDirFlags.has(flag.key)) return arg
    const base = flag.key === "coverprofile" ? cwd : NodePath.resolve(cwd, outputDir ?? cwd)
    outputs.push(NodePath.resolve(base, flag.value))
    return `-test.${flag.key}=${hostPipePath(firstPort + outputs.length - 1)}`
  })
  return { args: rewritten, outputs }
}
