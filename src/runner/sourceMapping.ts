/**
 * Maps the frames of the guest's stack traces back to the user's sources on
 * the host: the guest runs a bundle (or a snapshot of one) whose file is
 * gone by the time anyone reads the trace, and paying for source maps in
 * the guest costs boot time. esbuild writes the map beside the bundle; the
 * runner rewrites `FILE:LINE:COLUMN` of each frame with `node:module`'s
 * `SourceMap` when it shows a trace.
 *
 * @since 0.1.0
 */
import { SourceMap, type SourceMapPayload } from "node:module"
import * as NodePath from "node:path"

/**
 * A generated file the guest runs, and its source map.
 *
 * @since 0.1.0
 * @category models
 */
export interface Generated {
  /** How the guest's stack frames name the file: a path or a `file:` URL, or a pattern of them. */
  readonly names: ReadonlyArray<string | RegExp>
  /** esbuild's source map, as JSON text. */
  readonly map: string
  /** Lines put before esbuild's output in the file the guest runs (the interpreter line). */
  readonly lineOffset: number
  /** The directory the map's sources are relative to. */
  readonly sourceRoot: string
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * A function that rewrites, in a text, each `NAME:LINE:COLUMN` of the
 * generated file to the original source's absolute path, line and column;
 * a location the map does not cover (esbuild's own helpers) becomes
 * `<bundle>:LINE:COLUMN`, since the generated file is gone.
 *
 * @since 0.1.0
 * @category constructors
 */
export const mapper = (generated: Generated): (text: string) => string => {
  if (generated.names.length === 0) return (text) => text
  const names = generated.names.map((name) => typeof name === "string" ? escapeRegExp(name) : name.source)
  const location = new RegExp(`(${names.join("|")}):(\\d+):(\\d+)`, "g")
  let sourceMap: SourceMap | undefined
  return (text) =>
    text.replace(location, (_whole, _name: string, line: string, column: string) => {
      sourceMap ??= new SourceMap(JSON.parse(generated.map) as SourceMapPayload)
      const generatedLine = Number(line) - 1 - generated.lineOffset
      const entry = sourceMap.findEntry(generatedLine, Number(column) - 1)
      // findEntry answers the nearest mapping before the location, even on an earlier line.
      if (!("originalSource" in entry) || entry.originalSource === "" || entry.generatedLine !== generatedLine) {
        return `<bundle>:${line}:${column}`
      }
      const original = decodeURIComponent(entry.originalSource)
      // esbuild names an entry given as text by its `sourcefile`, e.g. "<effect-sysinit entry>".
      const source = original.includes("<")
        ? original.slice(original.indexOf("<"))
        : original.startsWith("file:")
        ? new URL(original).pathname
        : NodePath.resolve(generated.sourceRoot, original)
      return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`
    })
}

/**
 * Applies several mappers in turn.
 *
 * @since 0.1.0
 * @category constructors
 */
export const combine = (mappers: ReadonlyArray<(text: string) => string>): (text: string) => string => (text) =>
  mappers.reduce((mapped, map) => map(mapped), text)

const runnerFrame = /^\s+at (?:.* \()?<(?:bundle|effect-sysinit entry)>:\d+:\d+\)?$/

/**
 * Drops the stack frames of the runner's own machinery (esbuild's helpers,
 * the entry that imports the user's module), which say nothing to the user.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dropRunnerFrames = (text: string): string =>
  text.split("\n").filter((line) => !runnerFrame.test(line)).join("\n")
