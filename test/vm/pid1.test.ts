/**
 * PID 1 duties in a real VM under TCG: no output lost whatever way the
 * init wrote it, and orphans reaped beside Node's own children.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { createHash } from "node:crypto"
import { join } from "node:path"
import * as Qemu from "../../src/runner/machine/Qemu.ts"
import { boot, bootTimeout, hasQemu } from "./harness.ts"

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")

/** The lines the init wrote on console 0: the kernel's start with a timestamp in brackets. */
const initLines = (console: ReadonlyArray<string>) => console.filter((line) => !line.startsWith("["))

describe.skipIf(!hasQemu)("PID 1 duties in a VM", () => {
  it.live.each(["sync", "streams"])(
    "16 MiB through the stdout pipe and 16 MiB through an output file arrive byte-identical (%s writes); the exit line is the init's last line",
    (how) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const second = join(yield* fs.makeTempDirectoryScoped(), "second")
        const run = yield* boot("pid1.ts", { args: ["output", "16", how], outputs: [second] })
        assert.deepStrictEqual(run.outcome, Qemu.Outcome.Exited({ code: 0 }))
        const lines = initLines(run.console)
        const sums = lines.map((line) => /sha256 stdout=(\w+) file=(\w+)/.exec(line)).find((match) => match !== null)
        assert.isDefined(sums, lines.join("\n"))
        const file = yield* fs.readFile(second)
        assert.strictEqual(run.stdout.length, 16 * 1024 * 1024)
        assert.strictEqual(file.length, 16 * 1024 * 1024)
        assert.strictEqual(sha256(run.stdout), sums![1])
        assert.strictEqual(sha256(file), sums![2])
        assert.strictEqual(lines.at(-1), "VIRTRUN_EXIT_CODE: 0")
      }).pipe(Effect.provide(NodeServices.layer)),
    bootTimeout
  )

  it.live(
    "a shell's orphans are reaped while 50 node:child_process and 50 Effect ChildProcess children report their true exit codes",
    () =>
      Effect.gen(function*() {
        const run = yield* boot("pid1.ts", { args: ["orphans"], files: ["/bin/dash"] })
        assert.deepStrictEqual(run.outcome, Qemu.Outcome.Exited({ code: 0 }))
        const result = run.stdout.toString("utf8").split("\n").find((line) => line.startsWith("RESULT "))
        assert.isDefined(result, initLines(run.console).join("\n"))
        assert.deepStrictEqual(JSON.parse(result!.slice("RESULT ".length)), {
          orphansSpawned: 0,
          nodeCodesTrue: true,
          effectCodesTrue: true,
          zombies: []
        })
      }).pipe(Effect.provide(NodeServices.layer)),
    bootTimeout
  )
})
