// The package's public surface: "." and one subpath per module that
// src/index.ts re-exports, and the vitest pool ("./vitest", which imports
// vitest and so is no module of the index), nothing else. The runner (src/runner) and the
// private helpers (src/internal) are no subpath, so they can change freely.
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "../..")
const packageJson = JSON.parse(fs.readFileSync(join(root, "package.json"), "utf8")) as {
  readonly exports: Record<string, unknown>
}
const publicModules = [
  ...fs.readFileSync(join(root, "src/index.ts"), "utf8").matchAll(
    /^export \* as (\w+) from "\.\/(\w+)\.ts"$/gm
  )
].map(([, name, file]) => {
  assert.strictEqual(name, file, "a module is re-exported under its file's name")
  return file!
})

describe("the package's exports", () => {
  it("are the index, the modules it re-exports and the vitest pool, each with its source, types and build", () => {
    assert.deepStrictEqual(packageJson.exports, {
      "./vitest": { source: "./src/vitest.ts", types: "./dist/vitest.d.ts", default: "./dist/vitest.js" },
      ".": { source: "./src/index.ts", types: "./dist/index.d.ts", default: "./dist/index.js" },
      ...Object.fromEntries(publicModules.map((module) => [
        `./${module}`,
        { source: `./src/${module}.ts`, types: `./dist/${module}.d.ts`, default: `./dist/${module}.js` }
      ]))
    })
  })
})
