import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"

describe("Architecture", () => {
  const spellings: ReadonlyArray<readonly [string, Architecture.Architecture | undefined]> = [
    ["x86_64", "x86_64"],
    ["amd64", "x86_64"],
    ["x64", "x86_64"],
    ["arm64", "aarch64"],
    ["aarch64", "aarch64"],
    ["AArch64", "aarch64"],
    ["riscv64", undefined],
    ["", undefined]
  ]
  for (const [name, arch] of spellings) {
    it(`reads ${JSON.stringify(name)} as ${arch ?? "no architecture"}`, () => {
      assert.strictEqual(Option.getOrUndefined(Architecture.parse(name))?.name, arch)
    })
  }

  it("tells an architecture by its ELF e_machine: 62 is x86_64, 183 aarch64", () => {
    assert.strictEqual(Option.getOrUndefined(Architecture.fromElfMachine(62))?.name, "x86_64")
    assert.strictEqual(Option.getOrUndefined(Architecture.fromElfMachine(183))?.name, "aarch64")
    assert.isTrue(Option.isNone(Architecture.fromElfMachine(243)))
  })

  it("knows the host's architecture, and that a foreign one is not the host's", () => {
    const host = Option.getOrThrow(Architecture.host)
    assert.strictEqual(host.node, process.arch)
    assert.isTrue(Architecture.isHost(host))
    const other = host.name === "x86_64" ? Architecture.all.aarch64 : Architecture.all.x86_64
    assert.isFalse(Architecture.isHost(other))
  })

  it("gives every architecture a default transport it has", () => {
    for (const facts of Object.values(Architecture.all)) assert.include(facts.transports, facts.defaultTransport)
  })
})
