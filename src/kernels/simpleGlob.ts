/**
 * Glob patterns of the simple kind an init uses (`/sys/class/virtio-ports/vport*`,
 * `/lib/modules/*.ko`): `*`, `?` and `[...]` within path segments, matched
 * by reading only the directories the pattern names. Node's `fs.globSync`
 * loads and runs minimatch on first use, about 0.1 s of a TCG boot.
 */
import * as fs from "node:fs"

/** Whether `pattern` needs more than `*`, `?` and `[...]` (globstar, braces, extglobs, escapes). */
export const isSimple = (pattern: string): boolean => !/\*\*|[{}()\\]/.test(pattern)

const hasWildcard = (segment: string): boolean => /[*?[]/.test(segment)

const segmentRegExp = (segment: string): RegExp => {
  let source = ""
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i]!
    if (char === "*") source += "[^/]*"
    else if (char === "?") source += "[^/]"
    else if (char === "[") {
      const end = segment.indexOf("]", i + 2)
      if (end === -1) source += "\\["
      else {
        const body = segment.slice(i + 1, end)
        source += `[${body.startsWith("!") ? `^${body.slice(1)}` : body}]`
        i = end
      }
    } else source += char.replace(/[.^$|+(){}\\/]/g, "\\$&")
  }
  return new RegExp(`^${source}$`)
}

// Checked first, not caught: a thrown ENOENT costs a stack trace, tens of ms under TCG.
const entries = (dir: string): ReadonlyArray<string> => fs.existsSync(dir) ? fs.readdirSync(dir) : []

const exists = (path: string): boolean => fs.lstatSync(path, { throwIfNoEntry: false }) !== undefined

/** The existing paths that match an absolute simple pattern, sorted; dot files only for segments that start with a dot. */
export const globSync = (pattern: string): ReadonlyArray<string> => {
  let paths = ["/"]
  for (const segment of pattern.split("/").filter((part) => part !== "")) {
    if (!hasWildcard(segment)) {
      paths = paths.map((path) => `${path === "/" ? "" : path}/${segment}`)
      continue
    }
    const matches = segmentRegExp(segment)
    const dot = segment.startsWith(".")
    paths = paths.flatMap((path) =>
      entries(path).filter((name) => (dot || !name.startsWith(".")) && matches.test(name)).map((name) =>
        `${path === "/" ? "" : path}/${name}`
      )
    )
  }
  return paths.filter(exists).toSorted()
}
