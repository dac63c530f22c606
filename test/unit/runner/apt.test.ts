/**
 * The one door to apt and dpkg, with a fake Debian (fakeApt.ts) first on
 * PATH: what it asks of apt for an architecture, as root and as a user,
 * and what it makes of apt's answers. The fetches built on it are
 * kernelFetch.test.ts's and userlandFetch.test.ts's.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, afterEach, assert, describe, it, vi } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Apt from "../../../src/runner/fetch/Apt.ts"
import * as Progress from "../../../src/runner/fetch/Progress.ts"
import * as FakeApt from "./fakeApt.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-apt-test-"))
const hostPath = process.env["PATH"]
afterEach(() => {
  process.env["PATH"] = hostPath
  vi.restoreAllMocks()
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

let setups = 0

const setup = (uid: number) => {
  vi.spyOn(process, "getuid").mockReturnValue(uid)
  const fake = FakeApt.make(path.join(work, `case${++setups}`), [], { userland: true })
  process.env["PATH"] = `${fake.dir}:${hostPath}`
  const progress = Progress.recorder()
  const run = <A, E>(
    effect: Effect.Effect<A, E, NodeServices.NodeServices>
  ): Effect.Effect<A, E> =>
    effect.pipe(Effect.provideService(Progress.Progress, progress), Effect.provide(NodeServices.layer))
  return { fake, progress, run }
}

describe("Apt.ensureArchitecture", () => {
  const known: ReadonlyArray<readonly [string, string]> = [["the host's own", "amd64"], ["known already", "arm64"]]
  for (const [name, arch] of known) {
    it.live(`asks nothing more of an architecture ${name} (${arch}), as a user too`, () =>
      Effect.gen(function*() {
        const { fake, progress, run } = setup(1000)
        yield* run(Apt.ensureArchitecture(arch))
        assert.notInclude(fake.calls().join("\n"), "--add-architecture")
        assert.deepStrictEqual(progress.stages, [])
      }))
  }

  it.live("as root, adds an architecture apt does not know and updates apt's lists, saying so", () =>
    Effect.gen(function*() {
      const { fake, progress, run } = setup(0)
      fake.setForeign([])
      yield* run(Apt.ensureArchitecture("arm64"))
      assert.deepStrictEqual(fake.calls().slice(-2), ["dpkg --add-architecture arm64", "apt-get update -qq"])
      assert.deepStrictEqual(progress.stages, [
        "adding the arm64 architecture to apt (dpkg --add-architecture arm64) and updating"
      ])
      // Known from now on.
      yield* run(Apt.ensureArchitecture("arm64"))
      assert.lengthOf(fake.calls().filter((call) => call.startsWith("dpkg --add-architecture")), 1)
    }))

  it.live("as a user, refuses an architecture apt does not know, with the commands that add it", () =>
    Effect.gen(function*() {
      const { fake, run } = setup(1000)
      fake.setForeign([])
      const error = yield* Effect.flip(run(Apt.ensureArchitecture("arm64")))
      assert.strictEqual(
        error.message,
        "dpkg --print-foreign-architectures: apt does not know arm64 packages; " +
          "as root: dpkg --add-architecture arm64 && apt-get update"
      )
      assert.notInclude(fake.calls().join("\n"), "--add-architecture")
    }))
})

describe("Apt.update", () => {
  it.live("as a user, refuses with why the lists are needed", () =>
    Effect.gen(function*() {
      const { fake, run } = setup(1000)
      const error = yield* Effect.flip(run(Apt.update("apt knows no amd64 kernel")))
      assert.strictEqual(error.message, "apt-get update: apt knows no amd64 kernel; run apt-get update as root")
      assert.deepStrictEqual(fake.calls(), [])
    }))
})

describe("Apt.show and Apt.download", () => {
  it.live("shows nothing for no package, without asking apt, and leaves out the packages apt does not know", () =>
    Effect.gen(function*() {
      const { fake, run } = setup(1000)
      assert.deepStrictEqual(yield* run(Apt.show([])), [])
      assert.deepStrictEqual(fake.calls(), [])
      assert.deepStrictEqual(yield* run(Apt.show(["no-such-package:arm64"])), [])
      const records = yield* run(Apt.show(["libc6:arm64", "no-such-package:arm64"]))
      assert.deepStrictEqual(records.map((record) => [record.package, record.architecture]), [["libc6", "arm64"]])
    }))

  it.live("downloads as a user without apt's sandbox option, and reports the bytes that came up to the total", () =>
    Effect.gen(function*() {
      const { fake, progress, run } = setup(1000)
      const records = yield* run(Apt.show(["libc6:arm64", "libgcc-s1:arm64"]))
      const dir = path.join(work, `debs${setups}`)
      fs.mkdirSync(dir)
      const debs = yield* run(Apt.download(records, dir, "downloading"))
      assert.sameMembers([...debs], [path.join(dir, "libc6.deb"), path.join(dir, "libgcc-s1.deb")])
      assert.include(fake.calls(), "apt-get download -qq libc6:arm64 libgcc-s1:arm64")
      const total = records.reduce((sum, record) => sum + record.size, 0)
      assert.deepStrictEqual(progress.downloads.at(-1), [total, total])
      assert.isTrue(progress.downloads.every(([done, all]) => all === total && done <= total))
    }))

  it.live("fails when apt-get gives fewer .deb files than packages asked for", () =>
    Effect.gen(function*() {
      const { run } = setup(1000)
      const [libc] = yield* run(Apt.show(["libc6:arm64"]))
      const dir = path.join(work, `debs${setups}`)
      fs.mkdirSync(dir)
      // The same package twice: apt-get writes one file.
      const error = yield* Effect.flip(run(Apt.download([libc!, libc!], dir, "downloading")))
      assert.strictEqual(error.message, `apt-get download: 2 packages asked for, 1 .deb files in ${dir}`)
    }))
})

describe("a tool that cannot be run", () => {
  it.live("fails with why, naming the command: one that is there but may not be run", () =>
    Effect.gen(function*() {
      const { fake, run } = setup(1000)
      fs.chmodSync(path.join(fake.dir, "apt-cache"), 0o644)
      // Only the fake's directory: not the host's apt-cache either.
      process.env["PATH"] = fake.dir
      const error = yield* Effect.flip(run(Apt.packageNames("linux-image-")))
      assert.match(error.message, /^apt-cache pkgnames linux-image-: PermissionDenied/)
    }))
})

describe("Apt.parseRecords", () => {
  it("gives a record of a paragraph without version, architecture, dependencies or size, and skips one without a package", () => {
    assert.deepStrictEqual(Apt.parseRecords("Package: linux-image-amd64\n\nVersion: 1\nArchitecture: amd64\n"), [
      { package: "linux-image-amd64", version: "", architecture: "", depends: [], size: 0 }
    ])
  })
})

describe("Progress", () => {
  const downloads: ReadonlyArray<readonly [string, number, number, string]> = [
    ["under a megabyte in kB", 812_000, 1_468_000, "downloading: 812 kB of 1.5 MB (55%)"],
    ["no size known", 0, 0, "downloading: 0 kB of 0 kB (0%)"],
    ["more than was announced, at most 100%", 3_000_000, 2_000_000, "downloading: 3.0 MB of 2.0 MB (100%)"]
  ]
  for (const [name, done, total, line] of downloads) {
    it(`says a download's bytes: ${name}`, () => {
      assert.strictEqual(Progress.bytesLine("downloading", done, total), line)
    })
  }

  it.effect("reports on stderr unless told otherwise", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      vi.spyOn(process.stderr, "write").mockImplementation((text) => {
        written.push(String(text))
        return true
      })
      const progress = yield* Progress.Progress
      yield* progress.stage("kernel 6.12 for amd64: unpacking")
      assert.deepStrictEqual(written, ["effect-sysinit: kernel 6.12 for amd64: unpacking\n"])
    }))
})
