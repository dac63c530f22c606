/**
 * The examples of the docs, as files that type-check and run: every ```ts
 * block inside an `@example` of the JSDoc in src/*.ts, and every ```ts block
 * of README.md and of the pages in docs/. Each is written to test/.examples
 * (git-ignored), inside the package, so that `import … from "effect-sysinit"`
 * resolves through the package's own "exports" to its sources (the "source"
 * condition: node `--conditions=source`, tsc `customConditions`).
 *
 * What an example is decides how it runs:
 * - `test`: it imports `@effect/vitest`; test/unit/docs.test.ts imports it, so
 *   its tests run in the unit tier;
 * - `init`: it calls `Init.main(With)` or `Sysinit.run(With)`, so it needs PID 1
 *   and the live kernel; test/namespace/docs.test.ts runs it as PID 1 of new
 *   namespaces and expects `VIRTRUN_EXIT_CODE: 0`;
 * - `program`: anything else (on `Layer.memory`, or pure); the unit tier runs
 *   it with node and expects exit code 0.
 *
 * A `// prints: text` line states a line the example writes to stdout; an
 * example with such lines must print exactly those lines, in that order.
 * Every block runs: there is no way to opt out.
 *
 * A block right after a line that links to a file of the repository, as
 * ``[`examples/typical.ts`](../examples/typical.ts):``, quotes that file: the
 * link's text is the file's path from the repository's root, its target the
 * same file from the page, and the block must equal the file.
 */
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** How an example runs; see above. */
export type Kind = "test" | "init" | "program"

/** One ```ts block of the docs. */
export interface Example {
  /** The file it is written in, relative to the repository: `src/Mount.ts`, `README.md`. */
  readonly source: string
  /** Its place among the examples of `source`, from 1. */
  readonly index: number
  /** The line of `source` that holds its first line of code, from 1. */
  readonly line: number
  readonly code: string
  readonly kind: Kind
  /** The lines its `// prints:` comments state, in order, or undefined when it states none. */
  readonly prints: ReadonlyArray<string> | undefined
  /** The file of the repository it quotes (see `quotedText`): its link's text, when that names a file of the repository. */
  readonly quotes: string | undefined
  /** Where its link points, relative to the repository: the file it quotes when the link is right. */
  readonly quoteTarget: string | undefined
  /** The generated file, absolute. */
  readonly file: string
  /** How tests and diagnostics name it: `src/Mount.ts example 1 (line 142)`. */
  readonly name: string
}

export const root = Path.resolve(import.meta.dirname, "../..")
export const examplesDir = Path.join(root, "test", ".examples")

// Each generated file starts with one line that says where it comes from.
const headerLines = 1

interface Block {
  readonly line: number
  readonly code: string
  /** The link on the line before the block: ``[`examples/typical.ts`](../examples/typical.ts):``. */
  readonly link?: QuoteLink | undefined
}

/** A link to a file of the repository: its text (the path from the repository's root) and its target (from the page). */
interface QuoteLink {
  readonly text: string
  readonly target: string
}

// `[`path`](target)`, optionally followed by a colon; a target with a scheme (https:) or an anchor is no file.
const quoteLink = /^\[`([^`]+)`\]\(((?![a-z][a-z0-9+.-]*:|#)[^)\s]+)\):?$/

/** Whether a path from the repository's root names one of its files. */
const isRepositoryFile = (path: string): boolean => {
  const absolute = Path.resolve(root, path)
  return absolute.startsWith(`${root}${Path.sep}`) && fs.existsSync(absolute) && fs.statSync(absolute).isFile()
}

const fenceOpen = /^```(ts|typescript)\s*$/
const fenceClose = /^```\s*$/

/** The ```ts blocks of some lines (markdown, or JSDoc with its ` * ` taken off), with the line of each one's code. */
const blocksIn = (lines: ReadonlyArray<{ readonly text: string; readonly line: number }>): Array<Block> => {
  const blocks: Array<Block> = []
  let open: { line: number; code: Array<string>; link: QuoteLink | undefined } | undefined
  let before = ""
  for (const { line, text } of lines) {
    if (open === undefined) {
      if (fenceOpen.test(text.trim())) {
        const link = quoteLink.exec(before)
        open = { line: line + 1, code: [], link: link === null ? undefined : { text: link[1]!, target: link[2]! } }
      }
      if (text.trim() !== "") before = text.trim()
    } else if (fenceClose.test(text.trim())) {
      blocks.push({ line: open.line, code: `${open.code.join("\n")}\n`, link: open.link })
      open = undefined
    } else {
      open.code.push(text)
    }
  }
  return blocks
}

/** The ```ts blocks inside the `@example` tags of a TypeScript file's JSDoc comments. */
export const jsdocExampleBlocks = (text: string): Array<Block> => {
  const blocks: Array<Block> = []
  let comment: Array<{ text: string; line: number }> | undefined
  let inExample = false
  let inFence = false
  text.split("\n").forEach((raw, index) => {
    const line = index + 1
    if (comment === undefined) {
      if (/^\s*\/\*\*/.test(raw) && !raw.includes("*/")) {
        comment = []
        inExample = false
        inFence = false
      }
      return
    }
    if (/^\s*\*\//.test(raw)) {
      blocks.push(...blocksIn(comment))
      comment = undefined
      return
    }
    const content = raw.replace(/^\s*\* ?/, "")
    if (!inFence && /^@\w+/.test(content)) inExample = content.startsWith("@example")
    if (fenceOpen.test(content.trim()) || (inFence && fenceClose.test(content.trim()))) inFence = !inFence
    if (inExample) comment.push({ text: content, line })
  })
  return blocks
}

/** The ```ts blocks of a markdown file. */
export const markdownBlocks = (text: string): Array<Block> =>
  blocksIn(text.split("\n").map((content, index) => ({ text: content, line: index + 1 })))

/** How a block runs, from what it imports and calls. */
export const kindOf = (code: string): Kind => {
  if (/from "@effect\/vitest"/.test(code)) return "test"
  if (/\bInit\.main(With)?\(|\bSysinit\.run(With)?\(/.test(code)) return "init"
  return "program"
}

/** The lines a block says it prints, or undefined when it says nothing. */
export const printsOf = (code: string): ReadonlyArray<string> | undefined => {
  const prints = [...code.matchAll(/^\s*\/\/ prints:(?: (.*))?$/gm)].map((match) => match[1] ?? "")
  return prints.length === 0 ? undefined : prints
}

/** The markdown pages of a directory of the repository, sorted, as paths from its root. */
const markdownFiles = (directory: string): Array<string> =>
  fs.readdirSync(Path.join(root, directory)).filter((name) => name.endsWith(".md")).toSorted().map((name) =>
    `${directory}/${name}`
  )

/** The docs that hold examples: the public modules (src/*.ts), README.md, then the pages of docs/. */
const docs = (): Array<{ readonly source: string; readonly blocks: Array<Block> }> => {
  const modules = fs.readdirSync(Path.join(root, "src")).filter((name) => name.endsWith(".ts")).toSorted()
  const pages = ["README.md", ...markdownFiles("docs")]
  return [
    ...modules.map((name) => ({
      source: `src/${name}`,
      blocks: jsdocExampleBlocks(fs.readFileSync(Path.join(root, "src", name), "utf8"))
    })),
    ...pages.map((source) => ({ source, blocks: markdownBlocks(fs.readFileSync(Path.join(root, source), "utf8")) }))
  ]
}

/**
 * The name of an example's generated file, without its index: the module's
 * name for src/*.ts (`Mount`), the page's path for markdown (`README`,
 * `docs-library`), so that `docs/exec.md` and `src/Exec.ts` do not meet.
 */
const generatedBase = (source: string): string =>
  source.startsWith("src/") ? Path.basename(source, ".ts") : source.replace(/\.md$/, "").replaceAll("/", "-")

/** The modules the package exports, by name, as src/index.ts lists them. */
export const publicModules = (): Array<string> =>
  [...fs.readFileSync(Path.join(root, "src", "index.ts"), "utf8").matchAll(/^export \* as (\w+) from "\.\/\1\.ts"$/gm)]
    .map((match) => match[1]!)

/** Every example of the docs, not yet written. */
export const extract = (): Array<Example> =>
  docs().flatMap(({ blocks, source }) =>
    blocks.map((block, i) => {
      const index = i + 1
      const quotes = block.link !== undefined && isRepositoryFile(block.link.text) ? block.link : undefined
      return {
        source,
        index,
        line: block.line,
        code: block.code,
        kind: kindOf(block.code),
        prints: printsOf(block.code),
        quotes: quotes?.text,
        quoteTarget: quotes === undefined
          ? undefined
          : Path.posix.normalize(Path.posix.join(Path.posix.dirname(source), quotes.target)),
        file: Path.join(examplesDir, `${generatedBase(source)}-${index}.ts`),
        name: `${source} example ${index} (line ${block.line})`
      }
    })
  )

/** The text of a file an example quotes, without the comment lines that open it. */
export const quotedText = (file: string): string =>
  fs.readFileSync(Path.join(root, file), "utf8").replace(/^(\/\/.*\n)+/, "")

/** Writes `text` unless the file holds it already; never leaves a half-written file for another reader. */
const writeIfChanged = (file: string, text: string): void => {
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === text) return
  const temporary = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temporary, text)
  fs.renameSync(temporary, file)
}

const tsconfig = `${JSON.stringify({ extends: "../../tsconfig.json", include: ["*.ts"] }, undefined, 2)}\n`

/**
 * Extracts the examples and writes each to its file in test/.examples, with a
 * tsconfig.json that includes them all; removes the files of examples that
 * are gone. Both test tiers call it, perhaps at once: writing the same text
 * twice is harmless.
 */
export const prepare = (): Array<Example> => {
  const examples = extract()
  fs.mkdirSync(examplesDir, { recursive: true })
  for (const example of examples) {
    writeIfChanged(example.file, `// ${example.name}, written by test/docs/extract.ts\n${example.code}`)
  }
  writeIfChanged(Path.join(examplesDir, "tsconfig.json"), tsconfig)
  const current = new Set(examples.map((example) => Path.basename(example.file)))
  for (const name of fs.readdirSync(examplesDir)) {
    if (name.endsWith(".ts") && !current.has(name)) fs.rmSync(Path.join(examplesDir, name), { force: true })
  }
  return examples
}

/** Where a line of a generated file comes from in the docs, e.g. `src/Mount.ts:145 (example 1)`. */
export const docsPosition = (examples: ReadonlyArray<Example>, file: string, line: number): string | undefined => {
  const example = examples.find((candidate) => candidate.file === Path.resolve(root, file))
  if (example === undefined) return undefined
  return `${example.source}:${example.line + line - 1 - headerLines} (example ${example.index})`
}

/** What tsc said of the examples, each diagnostic led by the place in the docs it points to. */
export interface TypeCheck {
  readonly exitCode: number | null
  readonly diagnostics: ReadonlyArray<string>
}

/** Type-checks every written example with one run of tsc on test/.examples/tsconfig.json. */
export const typeCheck = (examples: ReadonlyArray<Example>): Promise<TypeCheck> =>
  new Promise((resolve) => {
    const tsc = Path.join(root, "node_modules", "typescript", "bin", "tsc")
    ChildProcess.execFile(
      process.execPath,
      [tsc, "--noEmit", "--pretty", "false", "-p", Path.join(examplesDir, "tsconfig.json")],
      { cwd: root, encoding: "utf8", timeout: 120_000, maxBuffer: 16 * 2 ** 20 },
      (error, stdout, stderr) => {
        const exitCode = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resolve({ exitCode, diagnostics: diagnosticsIn(examples, `${stdout}${stderr}`) })
      }
    )
  })

/** tsc's output, each diagnostic on one line (its continuation lines after it), led by where it is in the docs. */
const diagnosticsIn = (examples: ReadonlyArray<Example>, output: string): Array<string> => {
  const diagnostics: Array<string> = []
  for (const line of output.split("\n")) {
    if (line.trim() === "") continue
    const at = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line)
    const position = at === null ? undefined : docsPosition(examples, at[1]!, Number(at[2]))
    if (at !== null && position !== undefined) diagnostics.push(`${position}: ${at[4]}  [${at[1]}:${at[2]}:${at[3]}]`)
    else if (line.startsWith(" ") && diagnostics.length > 0) diagnostics[diagnostics.length - 1] += `\n${line}`
    else diagnostics.push(line)
  }
  return diagnostics
}

/** What one run of an example printed, and how it ended. */
export interface ExampleRun {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * The environment of node for an example: no colours, and V8's compile cache
 * kept in test/.examples, which halves the start of each run once warm.
 */
export const nodeEnv: Readonly<Record<string, string>> = {
  NO_COLOR: "1",
  NODE_COMPILE_CACHE: Path.join(examplesDir, ".node-compile-cache")
}

// A few runs at a time, each timed from its own start: all of them at once on a loaded machine ran past the timeout.
const runSlots = Math.max(2, Os.availableParallelism())
let running = 0
const waiting: Array<() => void> = []
const slot = async (): Promise<() => void> => {
  if (running >= runSlots) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  return () => {
    running--
    waiting.shift()?.()
  }
}

/** Runs a `program` example with node, the package's name resolving to its sources. */
export const runProgram = async (example: Example, timeoutMs = 25_000): Promise<ExampleRun> => {
  const release = await slot()
  return new Promise<ExampleRun>((resolve) => {
    ChildProcess.execFile(
      process.execPath,
      ["--conditions=source", example.file],
      { cwd: root, encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL", env: { ...process.env, ...nodeEnv } },
      (error, stdout, stderr) => {
        const exitCode = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resolve({ stdout, stderr, exitCode, signal: error?.signal ?? null })
      }
    )
  }).finally(release)
}

/** The lines of a stream, without the empty one after its last newline. */
export const linesOf = (text: string): Array<string> => {
  const lines = text.split("\n")
  if (lines.at(-1) === "") lines.pop()
  return lines
}

/** How a run went, for an assertion's message. */
export const describeRun = (example: Example, run: ExampleRun): string =>
  `${example.name}, ${Path.relative(root, example.file)}: exit code ${run.exitCode}, signal ${run.signal}\n` +
  `--- stdout\n${run.stdout}--- stderr\n${run.stderr}---\n--- the example\n${example.code}`
