/**
 * Kernels by name, fetched into an empty cache as the runner does on first
 * use, with a fake Debian (fakeApt.ts) first on PATH: fetches started
 * together fetch once, an interrupted or killed fetch leaves nothing the
 * next one trips on, an entry that does not check out is fetched again, a
 * name Debian does not have is refused naming those it has, and a broken
 * archive fails with what is wrong. The fetches run in this process; the
 * one that is killed midway is a process of its own (kernelFetchProgram.ts),
 * as an `exec` is.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, afterEach, assert, describe, it, vi } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Layer, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Cache from "../../../src/runner/cache.ts"
import * as Progress from "../../../src/runner/fetch/Progress.ts"
import * as Kernel from "../../../src/runner/kernel/Kernel.ts"
import type * as KernelCache from "../../../src/runner/kernel/KernelCache.ts"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"
import * as FakeApt from "./fakeApt.ts"

const program = path.join(import.meta.dirname, "kernelFetchProgram.ts")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-fetch-test-"))
const hostPath = process.env["PATH"]
afterEach(() => {
  process.env["PATH"] = hostPath
  vi.restoreAllMocks()
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

let setups = 0

/**
 * A fake Debian first on PATH and an empty cache of their own; its downloads
 * are instant unless `paced` (for what progress and runs that wait see).
 */
const setup = (packages: ReadonlyArray<FakeApt.KernelPackage> = FakeApt.bookworm, paced = false) => {
  const dir = path.join(work, `case${++setups}`)
  const fake = FakeApt.make(path.join(dir, "apt"), packages, { instant: !paced })
  const cache = path.join(dir, "cache")
  process.env["PATH"] = `${fake.dir}:${hostPath}`
  const services = Layer.mergeAll(
    NodeServices.layer,
    ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))
  )
  /** Kernel.find as a run does it, with what it says on stderr (as on a terminal with `tty`). */
  const find = (
    name: string | undefined,
    options: { readonly tty?: boolean; readonly arch?: Architecture.Facts } = {}
  ) => {
    const written: Array<string> = []
    return Kernel.find(name, options.arch).pipe(
      Effect.map((found) => ({ found, said: written.join("") })),
      Effect.provideService(Progress.Progress, Progress.make((text) => void written.push(text), options.tty === true)),
      Effect.provide(services)
    )
  }
  const downloads = () => fake.calls().filter((call) => call.startsWith("apt-get download"))
  const entry = (name: string) => path.join(cache, name)
  return { fake, cache, find, downloads, entry }
}

const hidden = (dir: string) => fs.readdirSync(dir).filter((name) => name.startsWith("."))
const locks = (cache: string) =>
  fs.existsSync(path.join(cache, "locks")) ? fs.readdirSync(path.join(cache, "locks")) : []
const manifestOf = (entry: string) =>
  JSON.parse(fs.readFileSync(path.join(entry, "manifest.json"), "utf8")) as KernelCache.Manifest
const lines = (said: string) => said.split("\n").filter((line) => line !== "")

describe("kernels by name, fetched into the cache", () => {
  it.live("two fetches at once on an empty cache fetch the kernel once: one waits for the other, both boot it", () =>
    Effect.gen(function*() {
      const { cache, downloads, entry, fake, find } = setup(FakeApt.bookworm, true)
      const runs = yield* Effect.all([find("6.12"), find("6.12")], { concurrency: "unbounded" })
      const dir = entry("kernel-6.12")
      for (const { found } of runs) {
        assert.strictEqual(found.image, path.join(dir, "vmlinuz"))
        assert.strictEqual(found.moduleTree, path.join(dir, "modules", "6.12.118+deb12-amd64"))
      }
      assert.lengthOf(downloads(), 1, fake.calls().join("\n"))
      const waited = runs.flatMap(({ said }) => lines(said)).filter((line) => line.includes("waiting"))
      assert.deepStrictEqual(waited, [
        `effect-sysinit: kernel 6.12 for amd64: waiting for run ${process.pid}, which is fetching it`
      ])
      assert.deepStrictEqual(fs.readFileSync(path.join(dir, "vmlinuz")), fake.vmlinuz("6.12.118+deb12-amd64"))
      assert.strictEqual(fs.readFileSync(path.join(dir, "release"), "utf8"), "6.12.118+deb12-amd64\n")
      assert.isTrue(fs.existsSync(path.join(runs[0].found.moduleTree!, "kernel/drivers/net/dummy.ko")))
      assert.deepStrictEqual(hidden(cache), [], "no partial directory is left")
      assert.deepStrictEqual(locks(cache), [], "no lock is left")
    }))

  it.live("says each stage on its own line when stderr is no terminal, and the download's bytes on none", () =>
    Effect.gen(function*() {
      const { fake, find } = setup(FakeApt.bookworm, true)
      const { found, said } = yield* find("6.1-cloud")
      const size = (fake.debSize("6.1.0-57-cloud-amd64") / 1000).toFixed(0)
      assert.deepStrictEqual(lines(said), [
        `effect-sysinit: kernel 6.1-cloud for amd64: downloading linux-image-6.1.0-57-cloud-amd64 6.1.192-3 (${size} kB)`,
        "effect-sysinit: kernel 6.1-cloud for amd64: unpacking",
        "effect-sysinit: kernel 6.1-cloud for amd64: decompressing the image (it boots through PVH, seconds sooner under TCG)",
        "effect-sysinit: kernel 6.1-cloud for amd64: booting the compressed image (slower): no PVH entry",
        `effect-sysinit: kernel 6.1-cloud for amd64: 6.1.0-57-cloud-amd64 ready in ${path.dirname(found.image)}`
      ])
    }))

  it.live("on a terminal, rewrites one line with the download's bytes and percent up to 100%", () =>
    Effect.gen(function*() {
      const { fake, find } = setup(FakeApt.bookworm, true)
      const { said } = yield* find("6.12-cloud", { tty: true })
      const total = (fake.debSize("6.12.118+deb12-cloud-amd64") / 1000).toFixed(0)
      // "\r" and the terminal's erase-line sequence before each rewrite.
      const shown = said.replaceAll("\r\u001b[K", "<rewrite>")
      const percents = [
        ...shown.matchAll(
          /<rewrite>effect-sysinit: kernel 6\.12-cloud for amd64: downloading: .* of (\d+) kB \((\d+)%\)/g
        )
      ]
      assert.isNotEmpty(percents, said)
      assert.isTrue(percents.every((match) => match[1] === total))
      const numbers = percents.map((match) => Number(match[2]))
      assert.deepStrictEqual(numbers, numbers.toSorted((a, b) => a - b), "the percent only grows")
      assert.strictEqual(numbers.at(-1), 100)
      // The next stage's line closes the rewritten one.
      assert.include(shown, "(100%)<rewrite>effect-sysinit: kernel 6.12-cloud for amd64: unpacking\n")
    }))

  it("a run killed midway leaves its partial directory and lock; the next run removes them and fetches", async () => {
    const { cache, downloads, fake, find } = setup(FakeApt.bookworm, true)
    const env = { ...process.env, PATH: `${fake.dir}:${hostPath}`, SYSINIT_CACHE_DIR: cache }
    const killed = spawn(process.execPath, ["--no-warnings", program, "6.12"], { env })
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
    assert.deepStrictEqual(locks(cache), ["kernel-6.12.lock"])
    const { found, said } = await Effect.runPromise(find("6.12"))
    assert.strictEqual(found.image, path.join(cache, "kernel-6.12", "vmlinuz"))
    assert.notInclude(said, "waiting for run", "a killed run's lock is not waited for")
    assert.deepStrictEqual(hidden(cache), [])
    assert.deepStrictEqual(locks(cache), [])
  })

  it.live("a fetch interrupted midway removes its partial directory and lock, and ends apt-get's download", () =>
    Effect.gen(function*() {
      const { cache, fake, find } = setup(FakeApt.bookworm, true)
      fake.holdDownloads()
      const held = path.join(fake.dir, "held.pid")
      const fiber = yield* Effect.forkChild(find("6.12"))
      yield* Effect.sleep("50 millis").pipe(
        Effect.repeat({ until: () => fs.existsSync(held) && fs.readFileSync(held, "utf8").endsWith("\n") })
      )
      assert.lengthOf(hidden(cache), 1, "the fetch works in a partial directory")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(hidden(cache), [])
      assert.deepStrictEqual(locks(cache), [])
      assert.isFalse(Cache.isRunning(Number(fs.readFileSync(held, "utf8"))), "apt-get is not left downloading")
    }))

  const damages: ReadonlyArray<readonly [string, (entry: string) => void, string]> = [
    [
      "a truncated vmlinuz",
      (entry) => fs.truncateSync(path.join(entry, "vmlinuz"), 4096),
      "vmlinuz has 4096 bytes, not"
    ],
    ["no vmlinuz", (entry) => fs.rmSync(path.join(entry, "vmlinuz")), "vmlinuz is missing"],
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
    ],
    [
      "a manifest of another kernel",
      (entry) => fs.writeFileSync(path.join(entry, "manifest.json"), JSON.stringify({ name: "6.1", images: {} })),
      "it holds 6.1"
    ],
    [
      "a manifest of another release",
      (entry) =>
        fs.writeFileSync(
          path.join(entry, "manifest.json"),
          JSON.stringify({ name: "6.12", release: "6.12.100+deb12-amd64", images: {} })
        ),
      "its manifest is of 6.12.100+deb12-amd64"
    ],
    [
      "no manifest (made before there were manifests) and a release of another series",
      (entry) => {
        fs.rmSync(path.join(entry, "manifest.json"))
        fs.renameSync(path.join(entry, "modules/6.12.118+deb12-amd64"), path.join(entry, "modules/6.1.0-57-amd64"))
        fs.writeFileSync(path.join(entry, "release"), "6.1.0-57-amd64\n")
      },
      "its release 6.1.0-57-amd64 is not of 6.12"
    ],
    [
      "no manifest and an image that is no kernel",
      (entry) => {
        fs.rmSync(path.join(entry, "manifest.json"))
        fs.writeFileSync(path.join(entry, "vmlinuz"), "not a kernel")
      },
      `vmlinuz is not a kernel image`
    ]
  ]
  for (const [name, damage, reason] of damages) {
    it.live(`an entry with ${name} is fetched again and replaced, not fatal`, () =>
      Effect.gen(function*() {
        const { cache, downloads, entry, fake, find } = setup()
        yield* find("6.12")
        const dir = entry("kernel-6.12")
        damage(dir)
        const { found, said } = yield* find("6.12")
        assert.include(said, "kernel 6.12 for amd64: fetching it again: ")
        assert.include(said, reason)
        assert.lengthOf(downloads(), 2)
        assert.strictEqual(found.image, path.join(dir, "vmlinuz"))
        assert.deepStrictEqual(fs.readFileSync(path.join(dir, "vmlinuz")), fake.vmlinuz("6.12.118+deb12-amd64"))
        assert.strictEqual(manifestOf(dir).release, "6.12.118+deb12-amd64")
        assert.deepStrictEqual(hidden(cache), [], "the damaged entry is gone")
      }))
  }

  it.live("a sound entry is used without asking apt, and without a word", () =>
    Effect.gen(function*() {
      const { fake, find } = setup()
      const first = yield* find("6.12")
      const calls = fake.calls().length
      const { found, said } = yield* find("6.12")
      assert.deepStrictEqual(found, first.found)
      assert.strictEqual(said, "")
      assert.strictEqual(fake.calls().length, calls)
    }))

  it.live("an entry made before there were manifests is taken as it is: its vmlinux when that boots through PVH", () =>
    Effect.gen(function*() {
      const { entry, fake, find } = setup([{ ...FakeApt.bookworm[2]!, pvh: true }])
      yield* find("6.12")
      const dir = entry("kernel-6.12")
      fs.rmSync(path.join(dir, "manifest.json"))
      const calls = fake.calls().length
      const { found, said } = yield* find("6.12")
      assert.strictEqual(found.image, path.join(dir, "vmlinux"))
      assert.strictEqual(said, "")
      assert.strictEqual(fake.calls().length, calls)
    }))

  it.live("the default is 6.1, in the cache's kernel/ directory, whose module tree the runner finds by itself", () =>
    Effect.gen(function*() {
      const { cache, find } = setup()
      const { found } = yield* find(undefined)
      const tree = path.join(cache, "kernel", "modules", "6.1.0-57-amd64")
      assert.strictEqual(found.moduleTree, tree)
      const cached = yield* Kernel.cachedModules.pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))),
        Effect.provide(NodeServices.layer)
      )
      assert.deepStrictEqual(cached, Option.some(tree))
      // The cached image given by its path comes with its tree; so does the entry of a kernel by name.
      assert.strictEqual((yield* find(found.image)).found.moduleTree, tree)
      const named = (yield* find("6.12")).found
      assert.strictEqual((yield* find(named.image)).found.moduleTree, named.moduleTree)
    }))

  const pvh: ReadonlyArray<FakeApt.Compression> = ["gzip", "xz", "zstd"]
  for (const payload of pvh) {
    it.live(`an x86_64 kernel compressed with ${payload} is decompressed once, and its PVH vmlinux is what boots`, () =>
      Effect.gen(function*() {
        const { entry, find } = setup([{ ...FakeApt.bookworm[2]!, payload, pvh: true }])
        const { found, said } = yield* find("6.12")
        const dir = entry("kernel-6.12")
        assert.strictEqual(found.image, path.join(dir, "vmlinux"))
        assert.deepStrictEqual(fs.readFileSync(found.image), FakeApt.pvhVmlinux())
        assert.notInclude(said, "booting the compressed image")
        const manifest = manifestOf(dir)
        assert.strictEqual(manifest.boot, "vmlinux")
        assert.deepStrictEqual(Object.keys(manifest.images), ["vmlinuz", "vmlinux"])
      }))
  }

  const compressed: ReadonlyArray<readonly [FakeApt.Compression, string]> = [
    ["lz4", "its lz4 compression is not undone here"],
    ["corrupt", "its gzip payload did not decompress"],
    ["corrupt-xz", "xz could not decompress it (is xz installed?)"]
  ]
  for (const [payload, reason] of compressed) {
    it.live(`an x86_64 kernel whose payload is ${payload} boots compressed, saying why`, () =>
      Effect.gen(function*() {
        const { entry, find } = setup([{ ...FakeApt.bookworm[2]!, payload, pvh: true }])
        const { found, said } = yield* find("6.12")
        const dir = entry("kernel-6.12")
        assert.strictEqual(found.image, path.join(dir, "vmlinuz"))
        assert.include(said, `kernel 6.12 for amd64: booting the compressed image (slower): ${reason}\n`)
        assert.isFalse(fs.existsSync(path.join(dir, "vmlinux")), "no half-decompressed vmlinux is kept")
        assert.strictEqual(manifestOf(dir).boot, "vmlinuz")
      }))
  }

  it.live("an arm64 kernel is its own entry, booted as it comes: kernel-arm64 for the default, kernel-6.12-arm64", () =>
    Effect.gen(function*() {
      const arm64 = Architecture.all.aarch64
      const { cache, find } = setup([
        { meta: "linux-image-arm64", version: "6.1.192-3", release: "6.1.0-57-arm64", arch: "arm64" },
        {
          meta: "linux-image-6.12-arm64",
          version: "6.12.118-1~deb12u1",
          release: "6.12.118+deb12-arm64",
          arch: "arm64"
        }
      ])
      const byDefault = yield* find(undefined, { arch: arm64 })
      assert.strictEqual(byDefault.found.image, path.join(cache, "kernel-arm64", "vmlinuz"))
      assert.notInclude(byDefault.said, "decompressing")
      const named = yield* find("6.12", { arch: arm64 })
      assert.strictEqual(
        named.found.moduleTree,
        path.join(cache, "kernel-6.12-arm64", "modules", "6.12.118+deb12-arm64")
      )
      assert.deepStrictEqual(
        yield* Kernel.cachedModulesFor(arm64).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))),
          Effect.provide(NodeServices.layer)
        ),
        Option.some(path.join(cache, "kernel-arm64", "modules", "6.1.0-57-arm64"))
      )
    }))

  const layouts: ReadonlyArray<readonly [string, FakeApt.KernelPackage["layout"], ReadonlyArray<string>]> = [
    ["under /usr/lib/modules (a merged /usr)", "usr-merged", ["linux-image-6.12.118+deb12-amd64:amd64"]],
    [
      "in a package of their own (Ubuntu's)",
      "ubuntu",
      ["linux-image-6.12.118+deb12-amd64:amd64", "linux-modules-6.12.118+deb12-amd64:amd64"]
    ]
  ]
  for (const [name, layout, debs] of layouts) {
    it.live(`finds the module tree ${name}`, () =>
      Effect.gen(function*() {
        const { downloads, find } = setup([{ ...FakeApt.bookworm[2]!, layout }])
        const { found } = yield* find("6.12")
        assert.isTrue(fs.existsSync(path.join(found.moduleTree!, "kernel/drivers/net/dummy.ko")))
        assert.deepStrictEqual(downloads(), [`apt-get download -qq ${rootFlags()}${debs.join(" ")}`])
      }))
  }

  it.live("asks apt-get update first when apt knows no kernel at all (a fresh machine's empty lists)", () =>
    Effect.gen(function*() {
      vi.spyOn(process, "getuid").mockReturnValue(0)
      const { fake, find } = setup()
      fake.emptyLists()
      const { found, said } = yield* find("6.12")
      assert.include(said, "effect-sysinit: apt knows no amd64 kernel: running apt-get update\n")
      assert.include(fake.calls(), "apt-get update -qq")
      assert.include(found.image, "kernel-6.12")
    }))
})

/** What apt-get download is given besides the packages: as root, it must not drop to its own user. */
const rootFlags = () => process.getuid?.() === 0 ? "-o APT::Sandbox::User=root " : ""

describe("kernels by name that cannot be fetched", () => {
  const failures: ReadonlyArray<
    readonly [string, ReadonlyArray<FakeApt.KernelPackage>, (fake: FakeApt.FakeApt) => void, string]
  > = [
    [
      "the download fails",
      FakeApt.bookworm,
      (fake) =>
        fake.failDownloads("E: Failed to fetch http://deb.debian.org/… 404  Not Found [IP: 151.101.2.132 80]\n"),
      "apt-get download -qq ${root}linux-image-6.12.118+deb12-amd64:amd64: exited with 100: " +
      "E: Failed to fetch http://deb.debian.org/… 404  Not Found [IP: 151.101.2.132 80]"
    ],
    [
      "the image package has no vmlinuz",
      [{ ...FakeApt.bookworm[2]!, layout: "no-vmlinuz" }],
      () => {},
      "linux-image-6.12.118+deb12-amd64 has no /boot/vmlinuz-*"
    ],
    [
      "the image package has no module tree",
      [{ ...FakeApt.bookworm[2]!, layout: "no-modules" }],
      () => {},
      "linux-image-6.12.118+deb12-amd64 has no /lib/modules/6.12.118+deb12-amd64"
    ],
    [
      "the image package's vmlinuz is no kernel",
      [{ ...FakeApt.bookworm[2]!, layout: "not-a-kernel" }],
      () => {},
      "linux-image-6.12.118+deb12-amd64's vmlinuz-6.12.118+deb12-amd64 is not a kernel image"
    ],
    [
      "the meta package depends on no image",
      [{ ...FakeApt.bookworm[2]!, layout: "no-image-dependency" }],
      () => {},
      "linux-image-6.12-amd64 names no linux-image package"
    ],
    [
      "apt does not know the image package",
      [{ ...FakeApt.bookworm[2]!, layout: "unknown-image" }],
      () => {},
      "apt does not know linux-image-6.12.118+deb12-amd64"
    ]
  ]
  for (const [name, packages, breakIt, reason] of failures) {
    it.live(`says why when ${name}, and leaves nothing in the cache`, () =>
      Effect.gen(function*() {
        const { cache, fake, find } = setup(packages)
        breakIt(fake)
        const error = yield* Effect.flip(find("6.12"))
        assert.instanceOf(error, Kernel.KernelNotFound)
        assert.include(
          error.message,
          `no kernel: fetching Debian's 6.12 kernel for amd64 failed: ${reason.replace("${root}", rootFlags())}; `
        )
        assert.deepStrictEqual(fs.readdirSync(cache).filter((entry) => entry !== "locks"), [])
        assert.deepStrictEqual(locks(cache), [])
      }))
  }

  it.live("says that apt is needed when there is none", () =>
    Effect.gen(function*() {
      const { find } = setup()
      process.env["PATH"] = path.join(work, "nothing")
      const error = yield* Effect.flip(find("6.12"))
      assert.include(
        error.message,
        "fetching Debian's 6.12 kernel for amd64 failed: dpkg --print-architecture: " +
          "dpkg not found: fetching from Debian's archive needs Debian's or Ubuntu's apt and dpkg"
      )
      // What is neither a file nor a name is refused without the names apt would give.
      const refused = yield* Effect.flip(find("latest"))
      assert.strictEqual(refused.message, "--kernel: latest is neither a file nor a kernel's name")
    }))

  it.live("says which lock it could not take when the cache's locks cannot be made", () =>
    Effect.gen(function*() {
      const { cache, find } = setup()
      fs.mkdirSync(cache, { recursive: true })
      fs.writeFileSync(path.join(cache, "locks"), "a file where the locks' directory goes")
      const error = yield* Effect.flip(find("6.12"))
      assert.include(error.message, `failed: cache lock ${path.join(cache, "locks", "kernel-6.12.lock")}: `)
    }))

  it.live("refuses a name Debian does not have with one line naming those it has, as a usage error", () =>
    Effect.gen(function*() {
      const { cache, downloads, find } = setup()
      const error = yield* Effect.flip(find("6.13"))
      assert.strictEqual(error._tag, "InvalidInput")
      assert.strictEqual(
        error.message,
        "--kernel: no kernel named 6.13 for amd64; kernels by name: 6.1, 6.1-cloud, 6.12, 6.12-cloud " +
          "(Debian's newest of each), or give a kernel image file"
      )
      assert.lengthOf(downloads(), 0)
      assert.isFalse(fs.existsSync(path.join(cache, "kernel-6.13")))
    }))

  it.live("without the default kernel in Debian's archive and none asked for, says there is no kernel", () =>
    Effect.gen(function*() {
      const { find } = setup(FakeApt.bookworm.slice(2))
      const error = yield* Effect.flip(find(undefined))
      assert.instanceOf(error, Kernel.KernelNotFound)
      assert.include(
        error.message,
        "no kernel: the default kernel: no kernel named 6.1 for amd64; kernels by name: 6.12, 6.12-cloud"
      )
    }))

  it.live("refuses what is neither a file nor a name, naming the names", () =>
    Effect.gen(function*() {
      const { find } = setup()
      const error = yield* Effect.flip(find("latest"))
      assert.strictEqual(error._tag, "InvalidInput")
      assert.strictEqual(
        error.message,
        "--kernel: latest is neither a file nor a kernel's name; kernels by name: 6.1, 6.1-cloud, 6.12, 6.12-cloud"
      )
    }))
})
