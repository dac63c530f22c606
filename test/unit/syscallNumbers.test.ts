import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import { loadLibc } from "../../src/kernels/libc.ts"
import { syscallNumbersByArch, syscallNumbersFor } from "../../src/kernels/syscallNumbers.ts"

/** The kernel headers of this machine that define `__NR_*` for its architecture, if installed. */
const headerOf: Readonly<Record<string, ReadonlyArray<string>>> = {
  x64: ["/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"],
  arm64: ["/usr/include/asm-generic/unistd.h"],
  riscv64: ["/usr/include/asm-generic/unistd.h"]
}

const numbersInHeader = (arch: string): Map<string, number> | undefined => {
  const header = (headerOf[arch] ?? []).find((path) => fs.existsSync(path))
  if (header === undefined) return undefined
  const numbers = new Map<string, number>()
  for (const [, name, number] of fs.readFileSync(header, "utf8").matchAll(/^#define __NR_(\w+) (\d+)$/gm)) {
    numbers.set(name!, Number(number))
  }
  return numbers
}

describe("the syscall number table", () => {
  it("has a table for x86_64, aarch64 and riscv64", () => {
    assert.deepStrictEqual(Object.keys(syscallNumbersByArch).toSorted(), ["arm64", "riscv64", "x64"])
  })

  it("has the running architecture", () => {
    assert.isDefined(syscallNumbersFor(process.arch), `no table for ${process.arch}`)
  })

  it.effect("is the running kernel's: getpid through syscall(2) with the table's number is our pid", () =>
    Effect.gen(function*() {
      const libc = yield* loadLibc
      assert.strictEqual(libc.syscallGetpid(), process.pid)
    }))

  it("agrees with this machine's kernel headers", (context) => {
    const header = numbersInHeader(process.arch)
    if (header === undefined) return context.skip("no kernel headers installed (linux-libc-dev)")
    const table = syscallNumbersFor(process.arch)!
    assert.deepStrictEqual(
      {
        init_module: header.get("init_module"),
        finit_module: header.get("finit_module"),
        getpid: header.get("getpid")
      },
      { ...table }
    )
  })
})
