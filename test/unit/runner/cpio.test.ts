import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Cpio from "../../../src/formats/cpio.ts"
import { hasTool } from "../../shared/tools.ts"
import { readArchive } from "./cpioReader.ts"

const hasCpio = hasTool("cpio")
if (!hasCpio) {
  console.warn("\n!!! cpio is not installed: the check of the archive with GNU cpio is SKIPPED (CI installs it).\n")
}

/** An archive of each kind of entry, with a file large enough to be copied in several chunks. */
const sampleArchive = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped()
  const big = randomBytes(2 * 1024 * 1024 + 3)
  yield* fs.writeFile(`${dir}/big`, big)
  yield* fs.chmod(`${dir}/big`, 0o750)
  const archivePath = `${dir}/out.cpio`

  const size = yield* Effect.scoped(Effect.gen(function*() {
    const writer = yield* Cpio.make(archivePath)
    yield* writer.directory("/bin")
    yield* writer.file("/bin/hello", new TextEncoder().encode("hi!"), 0o755)
    yield* writer.copyFile("/bin/big", `${dir}/big`)
    yield* writer.copyFile("/bin/big-ro", `${dir}/big`, 0o444)
    yield* writer.symlink("/bin/link", "hello")
    yield* writer.file("/empty", new Uint8Array(0))
    yield* writer.characterDevice("/console", 5, 1)
    yield* writer.finish
    return yield* writer.size
  }))
  return { dir, big, archivePath, size }
})

describe("cpio", () => {
  it.effect("writes directories, files with modes, symlinks and the trailer, each 4-byte aligned", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { archivePath, big, size } = yield* sampleArchive
      assert.strictEqual(size, Number((yield* fs.stat(archivePath)).size))

      const entries = readArchive(yield* fs.readFile(archivePath))
      assert.deepStrictEqual(entries.map((e) => [e.name, e.mode.toString(8), e.nlink]), [
        ["bin", "40755", 2],
        ["bin/hello", "100755", 1],
        ["bin/big", "100750", 1],
        ["bin/big-ro", "100444", 1],
        ["bin/link", "120777", 1],
        ["empty", "100644", 1],
        ["console", "20600", 1]
      ])
      assert.strictEqual(new TextDecoder().decode(entries[1]!.data), "hi!")
      assert.isTrue(Buffer.from(entries[2]!.data).equals(big))
      assert.isTrue(Buffer.from(entries[3]!.data).equals(big))
      assert.strictEqual(new TextDecoder().decode(entries[4]!.data), "hello")
      assert.deepStrictEqual(entries[6]!.rdev, [5, 1])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect.skipIf(!hasCpio)(
    "GNU cpio lists the archive and extracts its files and links",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const { archivePath, big, dir } = yield* sampleArchive
        const listing = execFileSync("cpio", ["-it", "--quiet", "-F", archivePath], { encoding: "utf8" })
        assert.deepStrictEqual(listing.trim().split("\n"), [
          "bin",
          "bin/hello",
          "bin/big",
          "bin/big-ro",
          "bin/link",
          "empty",
          "console"
        ])
        const out = `${dir}/x`
        yield* fs.makeDirectory(out)
        execFileSync("cpio", ["-idm", "--quiet", "--nonmatching", "-F", archivePath, "console"], { cwd: out })
        assert.isTrue(Buffer.from(yield* fs.readFile(`${out}/bin/big`)).equals(big))
        assert.strictEqual(yield* fs.readLink(`${out}/bin/link`), "hello")
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )

  it("pads the header and name to a multiple of four bytes", () => {
    for (const name of ["a", "ab", "abc", "abcd"]) {
      const header = Cpio.encodeHeader({ ino: 1, mode: Cpio.S_IFREG, nlink: 1, fileSize: 0, name })
      assert.strictEqual(header.length % 4, 0)
      assert.isAtLeast(header.length, 110 + name.length + 1)
    }
  })

  it("names entries relative to the root", () => {
    assert.strictEqual(Cpio.archivePath("/bin/node"), "bin/node")
    assert.strictEqual(Cpio.archivePath("bin/"), "bin")
    assert.strictEqual(Cpio.archivePath("/"), ".")
  })
})
