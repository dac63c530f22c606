/**
 * The guests' compile cache folder (src/runner/guestCompileCache.ts): made
 * in the cache directory, and trimmed to its bounds with the entries used
 * last kept. That the guest's node fills it through the share is the VM
 * tier's (test/vm/kernelMatrix.test.ts).
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as GuestCompileCache from "../../../src/runner/guestCompileCache.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guest-compile-cache-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** Writes an entry of `bytes` bytes, last used `age` seconds ago, in node's layout (a folder per node version). */
const entry = (folder: string, name: string, bytes: number, age: number) => {
  const file = path.join(folder, "v24.0.0-x64-0", name)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, Buffer.alloc(bytes))
  const when = Date.now() / 1000 - age
  fs.utimesSync(file, when, when)
}
const left = (folder: string) => fs.readdirSync(path.join(folder, "v24.0.0-x64-0")).toSorted()

describe("the guests' compile cache", () => {
  it("trims to the count, the entries used longest ago out", () => {
    const folder = tempDir()
    for (const [name, age] of [["a", 40], ["b", 30], ["c", 20], ["d", 10]] as const) entry(folder, name, 10, age)
    GuestCompileCache.trim(folder, { entries: 2, bytes: 1_000_000 })
    assert.deepStrictEqual(left(folder), ["c", "d"])
  })

  it("trims to the bytes, and keeps the newest entry even when it alone is larger", () => {
    const folder = tempDir()
    entry(folder, "old", 600, 20)
    entry(folder, "new", 600, 10)
    GuestCompileCache.trim(folder, { entries: 100, bytes: 1000 })
    assert.deepStrictEqual(left(folder), ["new"])
    GuestCompileCache.trim(folder, { entries: 100, bytes: 100 })
    assert.deepStrictEqual(left(folder), ["new"])
  })

  it("is made in the cache directory, and trimmed by SYSINIT_COMPILE_CACHE_MAX", () => {
    const cache = tempDir()
    const saved = { dir: process.env["SYSINIT_CACHE_DIR"], max: process.env["SYSINIT_COMPILE_CACHE_MAX"] }
    process.env["SYSINIT_CACHE_DIR"] = cache
    process.env["SYSINIT_COMPILE_CACHE_MAX"] = "1"
    try {
      const folder = path.join(cache, "node-compile-cache")
      assert.strictEqual(GuestCompileCache.prepare(), folder)
      assert.isTrue(fs.statSync(folder).isDirectory())
      entry(folder, "a", 10, 20)
      entry(folder, "b", 10, 10)
      GuestCompileCache.prepare()
      assert.deepStrictEqual(left(folder), ["b"])
    } finally {
      for (const [name, value] of [["SYSINIT_CACHE_DIR", saved.dir], ["SYSINIT_COMPILE_CACHE_MAX", saved.max]]) {
        if (value === undefined) delete process.env[name!]
        else process.env[name!] = value
      }
    }
  })
})
