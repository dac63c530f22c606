import { assert, describe, it } from "vitest"
import * as ExecArgs from "../../../src/runner/cli/flagSources.ts"
import { execFlagTable, flagSourceOf } from "../../../src/runner/cli/main.ts"
import * as Shares from "../../../src/runner/exec/shares.ts"

const split = (args: ReadonlyArray<string>) => ExecArgs.splitArgs(args, execFlagTable)

describe("exec's command line", () => {
  it("ends our flags at the first argument that is no flag and no flag's value", () => {
    const result = split(["--memory", "512", "--verbose", "--share=.", "/tmp/pkg.test", "-test.v=true", "--memory"])
    assert.deepStrictEqual(result.flags.map((flag) => flag.tokens), [["--memory", "512"], ["--verbose"], [
      "--share=."
    ]])
    assert.deepStrictEqual(result.program, ["/tmp/pkg.test", "-test.v=true", "--memory"])
  })

  it("takes the argument after -- as the program even when it looks like a flag", () => {
    assert.deepStrictEqual(split(["--host-root", "--", "--weird", "a"]).program, ["--weird", "a"])
  })

  it("reads the flags file: one argument a line, variables expanded, comments skipped", () => {
    const text = "# kernel per package\n--kernel=$KERNELS/vmlinuz\n\n  --share\n${HOME}/src:ro\n"
    assert.deepStrictEqual(ExecArgs.parseArgsFile(text, { KERNELS: "/k", HOME: "/home/me" }), [
      "--kernel=/k/vmlinuz",
      "--share",
      "/home/me/src:ro"
    ])
  })

  it("takes a kernel by name from the environment or the flags file as go test -exec runs get it", () => {
    const env = split(ExecArgs.parseArgsVariable("--kernel 6.12 --smp 2")).flags
    const file = split(ExecArgs.parseArgsFile("--kernel\n6.12-cloud\n", {})).flags
    const cli = split(["/tmp/pkg.test", "-test.v"])
    assert.deepStrictEqual(cli.program, ["/tmp/pkg.test", "-test.v"])
    assert.deepStrictEqual(ExecArgs.mergeFlags(cli.flags, [], env, execFlagTable), ["--kernel", "6.12", "--smp", "2"])
    assert.deepStrictEqual(ExecArgs.mergeFlags(cli.flags, file, env, execFlagTable), [
      "--smp",
      "2",
      "--kernel",
      "6.12-cloud"
    ])
  })

  it("splits the environment variable at white space", () => {
    assert.deepStrictEqual(ExecArgs.parseArgsVariable("  --smp 2\t--verbose\n"), ["--smp", "2", "--verbose"])
  })

  it("merges: command line over file over environment; repeatable flags add up", () => {
    const cli = split(["--memory", "2048", "--share", "/a"]).flags
    const file = split(["--memory=512", "--smp", "2", "--share", "/b"]).flags
    const env = split(["--memory", "256", "--smp", "4", "--timeout", "1m", "--share", "/c"]).flags
    assert.deepStrictEqual(ExecArgs.mergeFlags(cli, file, env, execFlagTable), [
      "--timeout",
      "1m",
      "--share",
      "/c",
      "--smp",
      "2",
      "--share",
      "/b",
      "--memory",
      "2048",
      "--share",
      "/a"
    ])
  })
})

describe("where a flag of exec came from", () => {
  const sourceOf = flagSourceOf([
    { name: undefined, flags: split(["--memory", "2048", "--env", "A=1"]).flags },
    { name: ".effect-sysinit-args", flags: split(["--memory=abc", "--smp", "0", "--bogus", "--timeout"]).flags },
    { name: "$EFFECT_SYSINIT_ARGS", flags: split(["--smp", "2", "--env", "B", "--add-file", "/nope"]).flags }
  ], execFlagTable)
  const table: ReadonlyArray<readonly [string, string | undefined, string | undefined, string | undefined]> = [
    ["the command line's, over the file's", "--memory", "2048", undefined],
    ["the file's, by its value", "--memory", "abc", ".effect-sysinit-args"],
    ["a flag given once, from the highest source that has it", "--smp", undefined, ".effect-sysinit-args"],
    ["an unknown flag", "--bogus", undefined, ".effect-sysinit-args"],
    ["a flag without its value", "--timeout", undefined, ".effect-sysinit-args"],
    ["a repeatable flag, by its value", "--add-file", "/nope", "$EFFECT_SYSINIT_ARGS"],
    ["a repeatable flag in two sources without its value: not told", "--env", undefined, undefined],
    ["an argument, not a flag", "<program>", undefined, undefined]
  ]
  for (const [name, flag, value, source] of table) {
    it(`tells ${name}`, () => {
      assert.strictEqual(sourceOf(flag, value), source)
    })
  }
})

describe("--share", () => {
  const table: ReadonlyArray<readonly [string, Shares.Share | undefined]> = [
    [".", { host: "/home/me/p", guest: "/home/me/p", readOnly: false }],
    ["src:ro", { host: "/home/me/p/src", guest: "/home/me/p/src", readOnly: true }],
    ["/data:/mnt/data", { host: "/data", guest: "/mnt/data", readOnly: false }],
    ["/data:/mnt/data:ro", { host: "/data", guest: "/mnt/data", readOnly: true }],
    ["../x/./y", { host: "/home/me/x/y", guest: "/home/me/x/y", readOnly: false }],
    ["/data:relative", undefined],
    [":/mnt", undefined],
    ["/a:/b:/c", undefined]
  ]
  for (const [text, expected] of table) {
    it(`reads ${JSON.stringify(text)}`, () => {
      assert.deepStrictEqual(Shares.parseShare(text, "/home/me/p"), expected)
    })
  }
})
