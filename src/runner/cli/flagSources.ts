/**
 * The command line of `effect-sysinit exec`: where our flags end and the
 * program's arguments begin, and flags from the environment and from a file,
 * as virtrun reads `VIRTRUN_ARGS` and `.virtrun-args`. Pure.
 *
 * @since 0.1.0
 */
import type { Param } from "effect/cli"

/**
 * The environment variable of extra flags, split at white space.
 *
 * @since 0.1.0
 * @category constants
 */
export const argsVariable = "EFFECT_SYSINIT_ARGS"

/**
 * The file of extra flags in the working directory: one argument a line,
 * `$VAR` and `${VAR}` expanded, empty lines and lines starting with `#` skipped.
 *
 * @since 0.1.0
 * @category constants
 */
export const argsFile = ".effect-sysinit-args"

/**
 * The flags of `exec` by name: whether each takes a value, and whether it may be repeated.
 *
 * @since 0.1.0
 * @category models
 */
export type FlagTable = Readonly<Record<string, { readonly value: boolean; readonly repeatable: boolean }>>

type AnyFlag = Param.Param<typeof Param.flagKind, unknown>

const singles = (
  param: AnyFlag,
  repeatable: boolean
): ReadonlyArray<{ readonly single: Param.Single<typeof Param.flagKind, unknown>; readonly repeatable: boolean }> => {
  const node = param as
    | Param.Single<typeof Param.flagKind, unknown>
    | Param.Map<typeof Param.flagKind, unknown, unknown>
    | Param.Transform<typeof Param.flagKind, unknown, unknown>
    | Param.Optional<typeof Param.flagKind, unknown>
    | Param.Variadic<typeof Param.flagKind, unknown>
  switch (node._tag) {
    case "Single":
      return [{ single: node, repeatable }]
    case "Variadic":
      return singles(node.param, true)
    default:
      return singles(node.param as AnyFlag, repeatable)
  }
}

/**
 * The table of a command's flags, read from their definitions, so that no
 * flag is spelled twice: each one's name (and its `no-` form when it is a
 * switch), whether it takes a value, whether it may be repeated.
 *
 * @since 0.1.0
 * @category parsing
 */
export const flagTable = (flags: Readonly<Record<string, unknown>>): FlagTable => {
  const table: Record<string, { value: boolean; repeatable: boolean }> = {}
  const visit = (value: unknown): void => {
    if (typeof value !== "object" || value === null) return
    if (!("_tag" in value && "kind" in value)) {
      for (const nested of Object.values(value)) visit(nested)
      return
    }
    for (const { repeatable, single } of singles(value as AnyFlag, false)) {
      const takesValue = single.primitiveType._tag !== "Boolean"
      for (const name of [single.name, ...single.aliases]) table[name] = { value: takesValue, repeatable }
      if (!takesValue && single.negation !== false) {
        table[single.negation ?? `no-${single.name}`] = { value: false, repeatable }
      }
    }
  }
  visit(flags)
  return table
}

/**
 * One flag as given: its tokens, e.g. `["--memory", "512"]` or `["--memory=512"]`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FlagTokens {
  readonly name: string
  readonly tokens: ReadonlyArray<string>
}

/**
 * Splits arguments into our flags, then the program and its arguments: the
 * program is the first argument that is neither a flag nor a flag's value
 * (or the one after `--`); everything after it is the program's, unread.
 *
 * @since 0.1.0
 * @category parsing
 */
export const splitArgs = (
  args: ReadonlyArray<string>,
  table: FlagTable
): { readonly flags: ReadonlyArray<FlagTokens>; readonly program: ReadonlyArray<string> } => {
  const flags: Array<FlagTokens> = []
  let i = 0
  while (i < args.length) {
    const arg = args[i]!
    if (arg === "--") return { flags, program: args.slice(i + 1) }
    if (!arg.startsWith("-") || arg === "-") break
    const name = arg.replace(/^--?/, "").split("=")[0]!
    const takesValue = table[name]?.value === true && !arg.includes("=")
    const tokens = takesValue ? args.slice(i, i + 2) : [arg]
    flags.push({ name, tokens })
    i += tokens.length
  }
  return { flags, program: args.slice(i) }
}

/**
 * Expands `$VAR` and `${VAR}` (unset: empty).
 *
 * @since 0.1.0
 * @category parsing
 */
export const expandVariables = (text: string, env: Readonly<Record<string, string | undefined>>): string =>
  text.replace(
    /\$(?:\{(\w+)\}|(\w+))/g,
    (_match, braced: string | undefined, bare: string | undefined) => env[braced ?? bare ?? ""] ?? ""
  )

/**
 * The arguments of the flags file's text.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArgsFile = (text: string, env: Readonly<Record<string, string | undefined>>): Array<string> =>
  text.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#")).map((line) =>
    expandVariables(line, env)
  )

/**
 * The arguments of the environment variable.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArgsVariable = (text: string | undefined): Array<string> =>
  (text ?? "").split(/\s+/).filter((arg) => arg !== "")

/**
 * Merges the flags of the three sources, highest precedence first: the
 * command line, the file, the environment. A flag given once per run takes
 * the value of the highest source that has it; repeatable flags (`--share`,
 * `--add-file`, …) add up, the environment's first.
 *
 * @since 0.1.0
 * @category parsing
 */
export const mergeFlags = (
  commandLine: ReadonlyArray<FlagTokens>,
  file: ReadonlyArray<FlagTokens>,
  environment: ReadonlyArray<FlagTokens>,
  table: FlagTable
): Array<string> => {
  const merged: Array<string> = []
  const sources = [environment, file, commandLine]
  for (const [index, source] of sources.entries()) {
    const higher = sources.slice(index + 1)
    for (const flag of source) {
      const overridden = table[flag.name]?.repeatable !== true &&
        higher.some((other) => other.some((candidate) => candidate.name === flag.name))
      if (!overridden) merged.push(...flag.tokens)
    }
  }
  return merged
}
