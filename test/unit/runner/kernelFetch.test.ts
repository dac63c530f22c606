/**
 * Kernels by name, fetched into an empty cache as the runner does on first
 * use, with a fake Debian (fakeApt.ts) first on PATH: runs started together
 * fetch once, a run killed midway leaves nothing the next one trips on, an
 * entry that does not check out is fetched again, a name Debian does not
 * have is refused naming those it has. Each run is a process of its own
 * (kernelFetchProgram.ts), as concurrent `exec`s are.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FakeApt from "./fakeApt.ts"

const program = path.join(import.meta.dirname, "kernelFetchProgram.ts")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-fetch-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

interface Found {
  readonly ok: boolean
  readonly image?: string
  readonly moduleTree?: string
  readonly tag?: string
  readonly message?: string
}

interface Run {
  readonly found: Found
  readonly stderr: string
}

let setups = 0

/** A fake Debian and an empty cache of their own. */
const setup = () => {
  const dir = path.join(work, `case${++setups}`)
  const fake = FakeApt.make(path.join(dir, "apt"))
  const cache = path.join(dir, "cache")
  const env = { ...process.env, PATH: `${fake.dir}:${process.env["PATH"]}`, SYSINIT_CACHE_DIR: cache }
  const start = (name: string, extra: Record<string, string> = {}): ChildProcess =>
    spawn(process.execPath, ["--no-warnings", program, name], { env: { ...env, ...extra } })
  const run = (name: string, extra: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        ["--no-warnings", program, name],
        { env: { ...env, ...extra }, encoding: "utf8", timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error !== null) return reject(new Error(`${error.message}\n${stderr}`))
          resolve({ found: JSON.parse(stdout) as Found, stderr })
        }
      )
    )
  const downloads = () => fake.calls().filter((call) => call.startsWith("apt-get download"))
  return { fake, cache, run, start, downloads }
}

const hidden = (dir: string) => fs.readdirSync(dir).filter((name) => name.startsWith("."))

describe("kernels by name, fetched into the cache", () => {
  it("three runs started together on an empty cache fetch the kernel once, and all three boot it", async () => {
    const { cache, downloads, fake, run } = setup()
    const runs = await Promise.all([run("6.12"), run("6.12"), run("6.12")])
    const entry = path.join(cache, "kernel-6.12")
    for (const { found, stderr } of runs) {
      assert.isTrue(found.ok, `${found.message}\n${stderr}`)
      assert.strictEqual(found.image, path.join(entry, "vmlinuz"))
      assert.strictEqual(found.moduleTree, path.join(entry, "modules", "6.12.118+deb12-amd64"))
    }
    assert.lengthOf(downloads(), 1, fake.calls().join("\n"))
    assert.deepStrictEqual(fs.readFileSync(path.join(entry, "vmlinuz")), fake.vmlinuz("6.12.118+deb12-amd64"))
    assert.strictEqual(fs.readFileSync(path.join(entry, "release"), "utf8"), "6.12.118+deb12-amd64\n")
    assert.isTrue(fs.existsSync(path.join(found(runs).moduleTree!, "kernel/drivers/net/dummy.ko")))
    assert.deepStrictEqual(hidden(cache), [], "no partial directory is left")
    assert.deepStrictEqual(fs.readdirSync(path.join(cache, "locks")), [], "no lock is left")
  })

  it("says each stage on its own line when stderr is no terminal, and the download's bytes on one", async () => {
    const { fake, run } = setup()
    const { found, stderr } = await run("6.1-cloud")
    assert.isTrue(found.ok, found.message)
    const size = (fake.debSize("6.1.0-57-cloud-amd64") / 1000).toFixed(0)
    assert.deepStrictEqual(stderr.split("\n").filter((line) => line !== ""), [
      `effect-sysinit: kernel 6.1-cloud for amd64: downloading linux-image-6.1.0-57-cloud-amd64 6.1.192-3 (${size} kB)`,
      "effect-sysinit: kernel 6.1-cloud for amd64: unpacking",
      "effect-sysinit: kernel 6.1-cloud for amd64: decompressing the image (it boots through PVH, seconds sooner under TCG)",
      "effect-sysinit: kernel 6.1-cloud for amd64: booting the compressed image (slower): no PVH entry",
      `effect-sysinit: kernel 6.1-cloud for amd64: 6.1.0-57-cloud-amd64 ready in ${path.dirname(found.image!)}`
    ])
  })

  it("on a terminal, rewrites one line with the download's bytes and percent up to 100%", async () => {
    const { fake, run } = setup()
    const { found, stderr } = await run("6.12-cloud", { FAKE_TTY: "1" })
    assert.isTrue(found.ok, found.message)
    const total = (fake.debSize("6.12.118+deb12-cloud-amd64") / 1000).toFixed(0)
    // "\r" and the terminal's erase-line sequence before each rewrite.
    const shown = stderr.replaceAll("\r\u001b[K", "<rewrite>")
    const percents = [
      ...shown.matchAll(
        /<rewrite>effect-sysinit: kernel 6\.12-cloud for amd64: downloading: .* of (\d+) kB \((\d+)%\)/g
      )
    ]
    assert.isNotEmpty(percents, stderr)
    assert.isTrue(percents.every((match) => match[1] === total))
    const numbers = percents.map((match) => Number(match[2]))
    assert.deepStrictEqual(numbers, numbers.toSorted((a, b) => a - b), "the percent only grows")
    assert.strictEqual(numbers.at(-1), 100)
    // The next stage's line closes the rewritten one.
    assert.include(shown, "(100%)<rewrite>effect-sysinit: kernel 6.12-cloud for amd64: unpacking\n")
  })

  it("a run killed midway leaves its partial directory and lock; the next run removes them and fetches", async () => {
    const { cache, downloads, run, start } = setup()
    const killed = start("6.12")
    // Killed while apt-get downloads (the fake takes a moment between the halves of a .deb).
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (downloads().length > 0) {
          clearInterval(poll)
          killed.kill("SIGKILL")
          resolve()
        }
      }, 20)
    })
    await new Promise((resolve) => killed.once("exit", resolve))
    assert.lengthOf(hidden(cache).filter((name) => name.startsWith(".kernel-6.12.partial-")), 1)
    assert.isFalse(fs.existsSync(path.join(cache, "kernel-6.12")), "nothing is in place")
    assert.deepStrictEqual(fs.readdirSync(path.join(cache, "locks")), ["kernel-6.12.lock"])
    const { found, stderr } = await run("6.12")
    assert.isTrue(found.ok, `${found.message}\n${stderr}`)
    assert.notInclude(stderr, "waiting for run", "a killed run's lock is not waited for")
    assert.deepStrictEqual(hidden(cache), [])
    assert.deepStrictEqual(fs.readdirSync(path.join(cache, "locks")), [])
  })

  const damages: ReadonlyArray<readonly [string, (entry: string) => void, string]> = [
    [
      "a truncated vmlinuz",
      (entry) => fs.truncateSync(path.join(entry, "vmlinuz"), 4096),
      "vmlinuz has 4096 bytes, not"
    ],
    [
      "a release file naming no module tree",
      (entry) => fs.writeFileSync(path.join(entry, "release"), "6.12.999+deb12-amd64\n"),
      "its release 6.12.999+deb12-amd64 names no module tree"
    ],
    [
      "no modules directory",
      (entry) => fs.rmSync(path.join(entry, "modules"), { recursive: true }),
      "its release 6.12.118+deb12-amd64 names no module tree"
    ],
    ["no release file", (entry) => fs.rmSync(path.join(entry, "release")), "it has no release file"],
    [
      "an unreadable manifest",
      (entry) => fs.writeFileSync(path.join(entry, "manifest.json"), "{"),
      "its manifest is unreadable"
    ]
  ]
  for (const [name, damage, reason] of damages) {
    it(`an entry with ${name} is fetched again and replaced, not fatal`, async () => {
      const { cache, downloads, fake, run } = setup()
      assert.isTrue((await run("6.12")).found.ok)
      const entry = path.join(cache, "kernel-6.12")
      damage(entry)
      const { found, stderr } = await run("6.12")
      assert.isTrue(found.ok, `${found.message}\n${stderr}`)
      assert.include(stderr, `kernel 6.12 for amd64: fetching it again: ${entry} ${reason}`)
      assert.lengthOf(downloads(), 2)
      assert.deepStrictEqual(fs.readFileSync(path.join(entry, "vmlinuz")), fake.vmlinuz("6.12.118+deb12-amd64"))
      assert.deepStrictEqual(hidden(cache), [], "the damaged entry is gone")
    })
  }

  it("a sound entry is used without asking apt", async () => {
    const { fake, run } = setup()
    assert.isTrue((await run("6.12")).found.ok)
    const calls = fake.calls().length
    const { found, stderr } = await run("6.12")
    assert.isTrue(found.ok)
    assert.strictEqual(stderr, "")
    assert.strictEqual(fake.calls().length, calls)
  })

  it("the default is 6.1, in the cache's kernel/ directory", async () => {
    const { cache, run } = setup()
    const { found } = await run("")
    assert.isTrue(found.ok, found.message)
    assert.strictEqual(found.moduleTree, path.join(cache, "kernel", "modules", "6.1.0-57-amd64"))
  })

  it("refuses a name Debian does not have with one line naming those it has, as a usage error", async () => {
    const { cache, downloads, run } = setup()
    const { found } = await run("6.13")
    assert.isFalse(found.ok)
    assert.strictEqual(found.tag, "InvalidInput")
    assert.strictEqual(
      found.message,
      "--kernel: no kernel named 6.13 for amd64; kernels by name: 6.1, 6.1-cloud, 6.12, 6.12-cloud " +
        "(Debian's newest of each), or give a kernel image file"
    )
    assert.lengthOf(downloads(), 0)
    assert.isFalse(fs.existsSync(path.join(cache, "kernel-6.13")))
  })

  it("refuses what is neither a file nor a name, naming the names", async () => {
    const { run } = setup()
    const { found } = await run("latest")
    assert.strictEqual(found.tag, "InvalidInput")
    assert.strictEqual(
      found.message,
      "--kernel: latest is neither a file nor a kernel's name; kernels by name: 6.1, 6.1-cloud, 6.12, 6.12-cloud"
    )
  })
})

const found = (runs: ReadonlyArray<Run>): Found => runs[0]!.found
