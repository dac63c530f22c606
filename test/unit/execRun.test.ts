// Exec's run files: the exec description a run carries (execSpecOf) and the
// files it puts in place (placeRunFiles), on the in-memory machine.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Exec from "../../src/Exec.ts"
import * as Abi from "../../src/internal/abi.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import { withKernel } from "./helpers.ts"
import { module } from "./moduleFiles.ts"

const spec = (extra: Partial<Exec.ExecSpec> = {}): Exec.ExecSpec => ({
  command: "/exec/app",
  args: [],
  cwd: "/",
  env: {},
  shares: [],
  ...extra
})

describe("Exec.execSpecOf", () => {
  it.effect("takes a run that describes a program, its arguments, environment and shares", () =>
    Effect.gen(function*() {
      const run = spec({ args: ["-v"], env: { A: "1" }, shares: [{ tag: "s0", guest: "/s", readOnly: true }] })
      assert.deepStrictEqual(yield* Exec.execSpecOf(run), run)
    }))

  for (
    const [what, run] of [
      ["no run at all", undefined],
      ["null", null],
      ["a string", "run /exec/app"],
      ["no command", { args: [], shares: [], env: {} }],
      ["args that are no list", { command: "/a", args: "x", shares: [], env: {} }],
      ["no shares", { command: "/a", args: [], env: {} }],
      ["no environment", { command: "/a", args: [], shares: [] }]
    ] as const
  ) {
    it.effect(`refuses ${what} with InvalidExecSpec, quoting what came`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Exec.execSpecOf(run))
        assert.instanceOf(error, Exec.InvalidExecSpec)
        assert.strictEqual(
          error.message,
          `the run is not an exec description: ${JSON.stringify(run)?.slice(0, 200)} has no command, args or shares`
        )
      }))
  }

  it.effect("quotes at most 200 characters of a long run", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Exec.execSpecOf({ junk: "x".repeat(1000) }))
      assert.isBelow(error.reason.length, 260)
    }))
})

describe("Exec.placeRunFiles", () => {
  it.effect("writes the files the run carries at their paths, with their modes, making their directories", () =>
    Effect.gen(function*() {
      yield* Exec.placeRunFiles(spec({
        inlineFiles: [
          { path: "/exec/app", mode: 0o755, data: Buffer.from("#!/bin/sh\n").toString("base64") },
          { path: "/top", mode: 0o644, data: "" }
        ]
      }))
      const { tree } = (yield* MemoryKernel).state
      const app = tree.get("/exec/app")
      assert.deepStrictEqual(app?.type === "file" ? [Buffer.from(app.data).toString(), app.mode] : [], [
        "#!/bin/sh\n",
        0o755
      ])
      assert.strictEqual(tree.get("/top")?.type, "file")
    }).pipe(withKernel()))

  it.effect("mounts the run's share read-only and links each of its files at its own path, where that is free", () =>
    Effect.gen(function*() {
      yield* Exec.placeRunFiles(spec({ runFiles: ["/exec/app", "/etc/config", "/data.bin"] }))
      const kernel = yield* MemoryKernel
      const [share] = kernel.state.mounts
      assert.deepStrictEqual([share?.source, share?.target, share?.fsType, share?.flags], [
        "run",
        "/.effect-sysinit-run",
        "9p",
        Abi.MS_RDONLY
      ])
      assert.deepStrictEqual(kernel.state.tree.get("/exec/app"), {
        type: "symlink",
        target: "/.effect-sysinit-run/exec/app"
      })
      assert.deepStrictEqual(kernel.state.tree.get("/data.bin"), {
        type: "symlink",
        target: "/.effect-sysinit-run/data.bin"
      })
      assert.strictEqual(kernel.state.tree.get("/etc/config")?.type, "file", "the image's own file stays")
    }).pipe(withKernel({ filesystems: ["9p"], files: { "/etc/config": "the image's" } })))

  it.effect("loads the run's modules, in dependency order, when the run has some", () =>
    Effect.gen(function*() {
      yield* Exec.placeRunFiles(spec({ modules: true }))
      assert.deepStrictEqual((yield* MemoryKernel).state.modules.map((loaded) => loaded.name), ["base", "top"])
    }).pipe(withKernel({
      files: {
        "/lib/modules/run/top.ko": module("top", ["base"]),
        "/lib/modules/run/base.ko": module("base")
      }
    })))

  it.effect("does nothing when the files are in the initramfs already", () =>
    Effect.gen(function*() {
      yield* Exec.placeRunFiles(spec())
      const kernel = yield* MemoryKernel
      assert.deepStrictEqual([kernel.state.mounts, kernel.state.modules], [[], []])
    }).pipe(withKernel({ files: { "/lib/modules/run/top.ko": module("top") } })))
})
