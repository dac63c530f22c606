/**
 * PID 1's output in a real VM under TCG: none of it is lost whatever way the
 * init wrote it, and nothing it writes on stdout can fake its ending. One
 * boot, four host pipes' worth of bytes (inits/pid1.ts).
 *
 * The size is what the test must overflow, with a wide margin: on the
 * serial transport the bytes pass the tty (n_tty and the UART's transmit
 * ring of one 4 KiB page), the 16550's 16-byte FIFO and QEMU's file
 * chardev (which writes each byte through to the host file: no buffer of
 * its own); a pipe holds 64 KiB, the largest buffer an init's output meets.
 * 512 KiB a host pipe is 8 pipes' worth and 128 UART rings'; the serial
 * console under TCG carries about 300 KiB/s, so the 2 MiB take some 7 s
 * (16 MiB over virtio, where it is cheap, are modules.test.ts's). The reaping of orphans beside Node's
 * own children is the namespace tier's (a PID namespace's init is PID 1 to
 * them), and Node's children are left alone in the unit tier too.
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

const kib = 512
const fakedExitLine = "VIRTRUN_EXIT_CODE: 0\n"

describe.skipIf(!hasQemu)("PID 1's output in a VM", () => {
  it.live(
    `${kib} KiB written, then ${kib} KiB streamed to stdout, ${kib} KiB written and ${kib} KiB streamed to two output files, arrive byte-identical; ` +
      "a faked exit line on stdout fakes nothing, exit code 300 comes through, and the exit line is the init's last line",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const [second, third] = [join(dir, "second"), join(dir, "third")]
        const run = yield* boot("pid1.ts", { args: ["output", String(kib)], outputs: [second, third] })
        assert.deepStrictEqual(run.outcome, Qemu.Outcome.Exited({ code: 300 }), run.console.join("\n"))
        const lines = initLines(run.console)
        const sums = lines.map((line) => /sha256 stdout=(\w+) second=(\w+) third=(\w+)/.exec(line)).find((match) =>
          match !== null
        )
        assert.isDefined(sums, lines.join("\n"))
        assert.isTrue(run.stdout.subarray(0, fakedExitLine.length).equals(Buffer.from(fakedExitLine)))
        assert.strictEqual(run.stdout.length, fakedExitLine.length + 2 * kib * 1024)
        assert.strictEqual(sha256(run.stdout), sums![1])
        for (const [file, sum] of [[second, sums![2]], [third, sums![3]]] as const) {
          const bytes = yield* fs.readFile(file)
          assert.strictEqual(bytes.length, kib * 1024, file)
          assert.strictEqual(sha256(bytes), sum, file)
        }
        assert.strictEqual(lines.at(-1), "VIRTRUN_EXIT_CODE: 300")
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)),
    bootTimeout
  )
})
