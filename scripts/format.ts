// Formats the project's TypeScript and JavaScript as the dprint CLI would with
// dprint.json, or with --check lists the files that are not formatted and
// fails. It runs dprint's TypeScript plugin through its WebAssembly build: the
// CLI's native binaries for other platforms are not all in the registry this
// project installs from, which made its lock file unusable by `npm ci`.
import { createContext } from "@dprint/formatter"
import { getPath } from "@dprint/typescript"
import * as fs from "node:fs"
import * as path from "node:path"

interface Config {
  readonly indentWidth?: number
  readonly lineWidth?: number
  readonly typescript?: Record<string, unknown>
  readonly excludes?: ReadonlyArray<string>
}

const root = path.resolve(import.meta.dirname, "..")
const config = JSON.parse(fs.readFileSync(path.join(root, "dprint.json"), "utf8")) as Config
const check = process.argv.includes("--check")

const context = createContext({
  ...(config.indentWidth === undefined ? {} : { indentWidth: config.indentWidth }),
  ...(config.lineWidth === undefined ? {} : { lineWidth: config.lineWidth })
})
context.addPlugin(fs.readFileSync(getPath()), config.typescript ?? {})

const excluded = new Set(config.excludes ?? [])
const files = fs.globSync("**/*.{ts,mts,cts,js,mjs,cjs}", {
  cwd: root,
  exclude: (name: string) => excluded.has(path.basename(name))
}).toSorted()

const unformatted: Array<string> = []
for (const file of files) {
  const filePath = path.join(root, file)
  const fileText = fs.readFileSync(filePath, "utf8")
  const formatted = context.formatText({ filePath, fileText })
  if (formatted === fileText) continue
  unformatted.push(file)
  if (!check) fs.writeFileSync(filePath, formatted)
}

if (check && unformatted.length > 0) {
  console.error(`not formatted (run npm run format):\n${unformatted.map((file) => `  ${file}`).join("\n")}`)
  process.exitCode = 1
} else {
  console.log(
    `${check ? "checked" : "formatted"} ${files.length} files${check ? "" : `, changed ${unformatted.length}`}`
  )
}
