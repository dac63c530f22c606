import { assert, describe, it } from "vitest"
import * as GoTest from "../../../src/runner/exec/goTest.ts"

const cwd = "/home/me/pkg"

describe("go test's file flags", () => {
  const table: ReadonlyArray<{
    readonly name: string
    readonly args: ReadonlyArray<string>
    readonly expected: ReadonlyArray<string>
    readonly outputs: ReadonlyArray<string>
  }> = [
    {
      name: "flags without files pass unchanged",
      args: ["-test.paniconexit0", "-test.timeout=10m0s", "-test.v=true", "-test.run=^TestA$"],
      expected: ["-test.paniconexit0", "-test.timeout=10m0s", "-test.v=true", "-test.run=^TestA$"],
      outputs: []
    },
    {
      name: "a relative coverprofile is taken from the working directory",
      args: ["-test.coverprofile=c.out"],
      expected: ["-test.coverprofile=/dev/virtrun3"],
      outputs: ["/home/me/pkg/c.out"]
    },
    {
      name: "an absolute coverprofile is used as given, outputdir or not",
      args: ["-test.outputdir=/out", "-test.coverprofile=/tmp/go-build1/_cover_.out"],
      expected: ["-test.outputdir=/tmp", "-test.coverprofile=/dev/virtrun3"],
      outputs: ["/tmp/go-build1/_cover_.out"]
    },
    {
      name: "profiles are joined to outputdir, each on its own console, in order",
      args: [
        "-test.outputdir=/out",
        "-test.cpuprofile=cpu.out",
        "-test.memprofile=mem.out",
        "-test.blockprofile=/abs/block.out",
        "-test.mutexprofile=mutex.out",
        "-test.trace=trace.out"
      ],
      expected: [
        "-test.outputdir=/tmp",
        "-test.cpuprofile=/dev/virtrun3",
        "-test.memprofile=/dev/virtrun4",
        "-test.blockprofile=/dev/virtrun5",
        "-test.mutexprofile=/dev/virtrun6",
        "-test.trace=/dev/virtrun7"
      ],
      outputs: ["/out/cpu.out", "/out/mem.out", "/abs/block.out", "/out/mutex.out", "/out/trace.out"]
    },
    {
      name: "profiles without outputdir are taken from the working directory",
      args: ["-test.cpuprofile=cpu.out"],
      expected: ["-test.cpuprofile=/dev/virtrun3"],
      outputs: ["/home/me/pkg/cpu.out"]
    },
    {
      name: "gocoverdir points at the guest's /tmp",
      args: ["-test.gocoverdir=/tmp/go-build2/cov"],
      expected: ["-test.gocoverdir=/tmp"],
      outputs: []
    },
    {
      name: "the program's own arguments after the flags pass unchanged",
      args: ["-test.v=true", "-args", "-test.coverprofile", "x"],
      expected: ["-test.v=true", "-args", "-test.coverprofile", "x"],
      outputs: []
    }
  ]
  for (const row of table) {
    it(row.name, () => {
      const rewritten = GoTest.rewriteGoTestFlags(row.args, cwd, 3)
      assert.deepStrictEqual(rewritten.args, row.expected)
      assert.deepStrictEqual(rewritten.outputs, row.outputs)
    })
  }

  it("tells a go test binary by its -test. flags", () => {
    assert.isTrue(GoTest.isGoTest(["-test.paniconexit0", "-test.timeout=10m0s"]))
    assert.isFalse(GoTest.isGoTest(["--test", "test.v"]))
  })
})
