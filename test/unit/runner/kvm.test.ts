/**
 * The KVM choice: forced by --kvm / --no-kvm, else a probe whose answer is
 * cached per boot, kernel, QEMU and /dev/kvm. The host's facts and the probe
 * are given here, so nothing boots and the real cache is not touched.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { TestClock } from "effect/testing"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"
import * as Kvm from "../../../src/runner/machine/Kvm.ts"
import * as Qemu from "../../../src/runner/machine/Qemu.ts"

const host = Architecture.all[process.arch === "arm64" ? "aarch64" : "x86_64"]
const foreign = host.name === "x86_64" ? Architecture.all.aarch64 : Architecture.all.x86_64

const facts: Kvm.HostFacts = {
  bootId: "boot-1",
  device: { mode: 0o20666, uid: 0, gid: 108 },
  accessible: true,
  uid: 1000,
  gids: [1000, 108]
}

/** A cache directory, a kernel file and a probe that counts its boots and answers `works`. */
const setup = (works: boolean) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped()
    const kernel = join(dir, "vmlinuz")
    yield* fs.writeFileString(kernel, "a kernel")
    const probes: Array<string> = []
    const decide = (mode: Kvm.Mode, hostFacts: Kvm.HostFacts = facts, arch = host) =>
      Kvm.decide(mode, {
        kernel,
        arch,
        qemu: "/nonexistent/qemu",
        cacheDirectory: join(dir, "kvm"),
        facts: Effect.succeed(hostFacts),
        probe: (probed) => Effect.sync(() => (probes.push(probed), works))
      })
    return { dir, kernel, probes, decide }
  })

describe("Kvm.decide", () => {
  it.effect("--kvm and --no-kvm decide without a probe", () =>
    Effect.gen(function*() {
      const { decide, probes } = yield* setup(false)
      assert.isTrue((yield* decide(true)).kvm)
      assert.isFalse((yield* decide(false)).kvm)
      assert.lengthOf(probes, 0)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("probes once: the second run takes the cached answer, and says so", () =>
    Effect.gen(function*() {
      const { decide, probes } = yield* setup(false)
      const first = yield* decide("auto")
      const second = yield* decide("auto")
      assert.isFalse(first.kvm)
      assert.isFalse(second.kvm)
      assert.lengthOf(probes, 1)
      assert.include(first.reason, "probed now")
      assert.include(second.reason, "cached in")
      assert.include(second.reason, "--kvm forces KVM")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("uses KVM when the probe boot worked, and tells how to do without", () =>
    Effect.gen(function*() {
      const { decide } = yield* setup(true)
      const choice = yield* decide("auto")
      assert.isTrue(choice.kvm)
      assert.include(choice.reason, "--no-kvm")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  const changes: ReadonlyArray<readonly [string, Kvm.HostFacts]> = [
    ["a reboot", { ...facts, bootId: "boot-2" }],
    ["another mode of /dev/kvm", { ...facts, device: { ...facts.device!, mode: 0o20600 } }],
    ["another group of /dev/kvm", { ...facts, device: { ...facts.device!, gid: 0 } }],
    ["another user", { ...facts, uid: 1001 }],
    ["other groups of the user", { ...facts, gids: [1000] }]
  ]
  for (const [name, changed] of changes) {
    it.effect(`probes again after ${name}`, () =>
      Effect.gen(function*() {
        const { decide, probes } = yield* setup(false)
        yield* decide("auto")
        yield* decide("auto", changed)
        assert.lengthOf(probes, 2)
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
  }

  it.effect("probes again for a new kernel at the same path", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { decide, kernel, probes } = yield* setup(false)
      yield* decide("auto")
      yield* fs.writeFileString(kernel, "a newer, longer kernel")
      yield* decide("auto")
      assert.lengthOf(probes, 2)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("keeps only the answers of the current boot", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { decide, dir } = yield* setup(false)
      yield* decide("auto")
      yield* decide("auto", { ...facts, bootId: "boot-2" })
      assert.lengthOf(yield* fs.readDirectory(join(dir, "kvm")), 1)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  const noProbe: ReadonlyArray<readonly [string, Kvm.HostFacts, Architecture.Facts, string]> = [
    ["without /dev/kvm", { ...facts, device: undefined }, host, "no /dev/kvm"],
    ["when /dev/kvm is not the user's to open", { ...facts, accessible: false }, host, "not readable and writable"],
    ["for a guest of another architecture", facts, foreign, `the guest is ${foreign.name}`]
  ]
  for (const [name, hostFacts, arch, says] of noProbe) {
    it.effect(`uses TCG without a probe ${name}`, () =>
      Effect.gen(function*() {
        const { decide, probes } = yield* setup(true)
        const choice = yield* decide("auto", hostFacts, arch)
        assert.isFalse(choice.kvm)
        assert.include(choice.reason, says)
        assert.lengthOf(probes, 0)
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
  }

  it.effect("says a probe that took its whole time did not end within it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const kernel = join(dir, "vmlinuz")
      yield* fs.writeFileString(kernel, "a kernel")
      const choice = yield* Kvm.decide("auto", {
        kernel,
        arch: host,
        qemu: "/nonexistent/qemu",
        cacheDirectory: join(dir, "kvm"),
        facts: Effect.succeed(facts),
        probe: () => Effect.as(TestClock.adjust(Kvm.probeTimeout), false)
      })
      assert.isFalse(choice.kvm)
      assert.include(choice.reason, "a probe boot with it did not end within 4s")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("probes anew over an answer it cannot read, and replaces it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { decide, dir, probes } = yield* setup(false)
      yield* decide("auto")
      const [answer] = yield* fs.readDirectory(join(dir, "kvm"))
      yield* fs.writeFileString(join(dir, "kvm", answer!), "{\"works\": tr")
      const again = yield* decide("auto")
      assert.lengthOf(probes, 2)
      assert.include(again.reason, "probed now")
      assert.deepStrictEqual(yield* fs.readDirectory(join(dir, "kvm")), [answer])
      assert.doesNotThrow(() => JSON.parse(readFileSync(join(dir, "kvm", answer!), "utf8")))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("drops an answer of another file it cannot read when it stores one", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { decide, dir } = yield* setup(false)
      yield* fs.makeDirectory(join(dir, "kvm"))
      yield* fs.writeFileString(join(dir, "kvm", "unreadable.json"), "not JSON")
      yield* decide("auto")
      assert.notInclude(yield* fs.readDirectory(join(dir, "kvm")), "unreadable.json")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("finds a QEMU named without a slash on PATH: another QEMU there is probed anew", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { dir, kernel, probes } = yield* setup(false)
      const qemuIn = (name: string, script: string) =>
        Effect.gen(function*() {
          yield* fs.makeDirectory(join(dir, name))
          yield* fs.writeFileString(join(dir, name, "qemu-under-test"), script)
          return join(dir, name)
        })
      const first = yield* qemuIn("first", "#!/bin/sh\n")
      const second = yield* qemuIn("second", "#!/bin/sh\nexit 0\n")
      const decideOnPath = (path: string) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            const saved = process.env["PATH"]
            process.env["PATH"] = `/nonexistent:${path}`
            return saved
          }),
          () =>
            Kvm.decide("auto", {
              kernel,
              arch: host,
              qemu: "qemu-under-test",
              cacheDirectory: join(dir, "kvm"),
              facts: Effect.succeed(facts),
              probe: (probed) => Effect.sync(() => (probes.push(probed), false))
            }),
          (saved) => Effect.sync(() => void (process.env["PATH"] = saved))
        )
      yield* decideOnPath(first)
      yield* decideOnPath(first)
      assert.lengthOf(probes, 1, "the same QEMU: its answer is kept")
      yield* decideOnPath(second)
      assert.lengthOf(probes, 2, "another QEMU on PATH")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("probes with QEMU itself when no probe is given", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const kernel = join(dir, "vmlinuz")
      yield* fs.writeFileString(kernel, "a kernel")
      const marker = join(dir, "probed")
      const qemu = join(dir, "qemu")
      yield* fs.writeFileString(qemu, `#!/bin/sh\necho "$@" > '${marker}'\nexit 0\n`)
      yield* fs.chmod(qemu, 0o755)
      const choice = yield* Kvm.decide("auto", {
        kernel,
        arch: host,
        qemu,
        cacheDirectory: join(dir, "kvm"),
        facts: Effect.succeed(facts)
      })
      // Qemu.probeKvm boots only where /dev/kvm exists: then this QEMU ends at once, as a working KVM does.
      const hasKvm = existsSync("/dev/kvm")
      assert.strictEqual(choice.kvm, hasKvm)
      assert.strictEqual(yield* fs.exists(marker), hasKvm)
      if (hasKvm) assert.include(yield* fs.readFileString(marker), `-kernel ${kernel}`)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("reads this host's facts: its boot id, and /dev/kvm when there is one", () =>
    Effect.gen(function*() {
      const read = yield* Kvm.hostFacts
      assert.match(read.bootId, /^[0-9a-f-]{36}$/)
      assert.strictEqual(read.uid, process.getuid!())
      assert.strictEqual(read.device !== undefined, yield* (yield* FileSystem.FileSystem).exists("/dev/kvm"))
    }).pipe(Effect.provide(NodeServices.layer)))
})

/** A shell script that stands in for QEMU. */
const standIn = (script: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = join(yield* fs.makeTempDirectoryScoped(), "qemu")
    yield* fs.writeFileString(file, `#!/bin/sh\n${script}\n`)
    yield* fs.chmod(file, 0o755)
    return file
  })

describe.skipIf(!existsSync("/dev/kvm"))("Qemu.probeKvm, with a stand-in for QEMU", () => {
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ["a boot that ends (the kernel's panic, -no-reboot) says KVM works", "exit 0", true],
    ["a QEMU that fails says it does not", "exit 1", false],
    ["a QEMU that hangs is killed after the timeout, and says it does not", "exec sleep 60", false]
  ]
  for (const [name, script, works] of cases) {
    it.live(name, () =>
      Effect.gen(function*() {
        const qemu = yield* standIn(script)
        // A stand-in that was not killed would outlast the test's own timeout.
        assert.strictEqual(yield* Qemu.probeKvm("/k/vmlinuz", { qemu, timeout: "500 millis" }), works)
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
  }
})
