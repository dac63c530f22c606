/**
 * The clone's build of the runner: keyed by what it is made from, and the
 * builds of earlier sources cleared without taking one a run may be loading.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
// @ts-expect-error: plain JavaScript, run by any node (bin/effect-sysinit); no declarations.
import { removeOldBuilds, sourceKey } from "../../../bin/build-runner.mjs"

const temporary = (prefix: string) => fs.mkdtempSync(join(os.tmpdir(), `effect-sysinit-${prefix}-`))

const touch = (file: string, minutesAgo: number) => {
  fs.writeFileSync(file, "")
  const at = new Date(Date.now() - minutesAgo * 60_000)
  fs.utimesSync(file, at, at)
}

describe("the runner's build in a clone", () => {
  it("is keyed by the sources, the package files and the build's own script", () => {
    const root = temporary("build-key")
    fs.mkdirSync(join(root, "src", "runner"), { recursive: true })
    fs.mkdirSync(join(root, "bin"))
    fs.writeFileSync(join(root, "package.json"), "{}")
    fs.writeFileSync(join(root, "src", "runner", "a.ts"), "export const a = 1")
    const keys = [sourceKey(root)]
    fs.writeFileSync(join(root, "src", "runner", "a.ts"), "export const a = 2")
    keys.push(sourceKey(root))
    fs.writeFileSync(join(root, "src", "b.ts"), "")
    keys.push(sourceKey(root))
    fs.writeFileSync(join(root, "package-lock.json"), "{}")
    keys.push(sourceKey(root))
    fs.writeFileSync(join(root, "bin", "build-runner.mjs"), "")
    keys.push(sourceKey(root))
    assert.strictEqual(new Set(keys).size, keys.length)
    assert.strictEqual(sourceKey(root), keys.at(-1), "the same files give the same key")
    fs.rmSync(root, { recursive: true })
  })

  it("earlier builds are cleared but the newest three; partial ones when an hour old", () => {
    const dir = temporary("builds")
    for (
      const [name, minutesAgo] of [
        ["runner-a.mjs", 1],
        ["runner-b.mjs", 5],
        ["runner-c.mjs", 3],
        ["runner-d.mjs", 600],
        ["runner-e.mjs", 7],
        ["runner-f.mjs.41.partial", 2],
        ["runner-g.mjs.42.partial", 61]
      ] as const
    ) touch(join(dir, name), minutesAgo)
    fs.mkdirSync(join(dir, "compile-cache"))
    removeOldBuilds(dir)
    assert.deepStrictEqual(fs.readdirSync(dir).toSorted(), [
      "compile-cache",
      "runner-a.mjs",
      "runner-b.mjs",
      "runner-c.mjs",
      "runner-f.mjs.41.partial"
    ])
    fs.rmSync(dir, { recursive: true })
  })
})
