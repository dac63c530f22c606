/**
 * The `effect-sysinit` command as a user runs it: what it exits with and
 * says on stderr for input it refuses (a line saying what is wrong, one
 * pointing at the help, nothing on stdout), all before any boot (no QEMU);
 * the help when asked for.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { exitCodes } from "../../../src/runner/exitCodes.ts"

const bin = join(import.meta.dirname, "../../../bin/effect-sysinit")
const hello = join(import.meta.dirname, "../../../examples/hello.ts")

const run = (
  args: ReadonlyArray<string>,
  nodeOptions: ReadonlyArray<string> = [],
  options: { readonly cwd?: string; readonly env?: Readonly<Record<string, string>> } = {}
) => {
  const result = spawnSync(process.execPath, [...nodeOptions, bin, ...args], {
    encoding: "utf8",
    timeout: 120_000,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { ...process.env, ...options.env }
  })
  return { status: result.status, stderr: result.stderr, stdout: result.stdout }
}

const timeout = 120_000

const linesOf = (text: string): ReadonlyArray<string> => text.split("\n").filter((line) => line !== "")

const argsFileDirs: Array<string> = []
afterAll(() => {
  for (const dir of argsFileDirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** A directory whose `.effect-sysinit-args` holds these lines, for exec's flags from the file. */
const argsFileDir = (...lines: ReadonlyArray<string>): string => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-args-"))
  argsFileDirs.push(dir)
  fs.writeFileSync(join(dir, ".effect-sysinit-args"), lines.map((line) => `${line}\n`).join(""))
  return dir
}

interface Refusal {
  readonly name: string
  readonly args: ReadonlyArray<string>
  /** What the first line says: the flag or argument, and what is wrong. */
  readonly says: string
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
}

// One row per kind of bad input for each command; all are refused before any boot.
const refusals: Readonly<Record<string, ReadonlyArray<Refusal>>> = {
  vm: [
    { name: "an unknown flag", args: ["vm", "--bogus", hello], says: "--bogus: not a flag of effect-sysinit vm" },
    {
      name: "a misspelt flag",
      args: ["vm", "--kernl", "k", hello],
      says: "--kernl: not a flag of effect-sysinit vm; did you mean --kernel?"
    },
    { name: "no INIT", args: ["vm"], says: "missing <init>" },
    {
      name: "an INIT that does not exist",
      args: ["vm", "/nonexistent/init.ts"],
      says: "<init>: /nonexistent/init.ts does not exist"
    },
    { name: "a flag without its value", args: ["vm", hello, "--memory"], says: "--memory: needs a value (integer)" },
    {
      name: "a flag given twice",
      args: ["vm", "--smp", "1", "--smp", "2", hello],
      says: "--smp: given 2 times; it takes one value"
    },
    {
      name: "--memory abc",
      args: ["vm", "--memory", "abc", hello],
      says: "--memory: \"abc\" is not a whole number of MiB above 0"
    },
    { name: "--smp 0", args: ["vm", "--smp", "0", hello], says: "--smp: \"0\" is not a whole number of CPUs above 0" },
    {
      name: "--timeout soon",
      args: ["vm", "--timeout", "soon", hello],
      says: "--timeout: \"soon\" is not a duration such as 90, 90s, 2m, 1500ms"
    },
    { name: "--timeout 0", args: ["vm", "--timeout", "0", hello], says: "--timeout: \"0\" is not a duration above 0" },
    {
      name: "--transport usb",
      args: ["vm", "--transport", "usb", hello],
      says: "--transport: \"usb\" is not one of \"serial\" | \"virtio\" | \"pci\""
    },
    {
      name: "--arch sparc",
      args: ["vm", "--arch", "sparc", hello],
      says: "--arch: \"sparc\" is not one of x86_64, amd64, x64, aarch64, arm64"
    },
    { name: "a switch with a value", args: ["vm", "--kvm=maybe", hello], says: "--kvm: \"maybe\" is not one of" },
    { name: "--kernel FILE that does not exist", args: ["vm", "--kernel", "/nonexistent", hello], says: "--kernel: " },
    {
      name: "--kernel that is not one",
      args: ["vm", "--kernel", "/etc/passwd", hello],
      says: "--kernel: /etc/passwd is not a kernel image"
    },
    {
      name: "--node that does not exist",
      args: ["vm", "--node", "/nonexistent", hello],
      says: "--node: /nonexistent does not exist"
    },
    {
      name: "--add-file that does not exist",
      args: ["vm", "--add-file", "/nonexistent", hello],
      says: "--add-file: /nonexistent does not exist"
    },
    {
      name: "--add-module that does not exist",
      args: ["vm", "--add-module", "/nonexistent.ko", hello],
      says: "--add-module: /nonexistent.ko does not exist"
    },
    {
      name: "three --output on serial, refused after parsing",
      args: ["vm", "--output", "a", "--output", "b", "--output", "c", hello],
      says: "--output: 5 consoles are needed (console 0, stdout, 3 output files)"
    },
    {
      name: "a bad global flag",
      args: ["vm", "--log-level", "loud", hello],
      says: "--log-level: \"loud\" is not one of"
    }
  ],
  exec: [
    {
      name: "an unknown flag",
      args: ["exec", "--bogus", "/bin/true"],
      says: "--bogus: not a flag of effect-sysinit exec"
    },
    { name: "no PROGRAM", args: ["exec"], says: "missing <program>" },
    {
      name: "a PROGRAM that does not exist",
      args: ["exec", "/nonexistent/program"],
      says: "cannot run /nonexistent/program"
    },
    { name: "a flag without its value", args: ["exec", "--timeout"], says: "--timeout: needs a value (duration)" },
    {
      name: "--memory abc",
      args: ["exec", "--memory", "abc", "/bin/true"],
      says: "--memory: \"abc\" is not a whole number of MiB above 0"
    },
    {
      name: "--timeout soon",
      args: ["exec", "--timeout", "soon", "/bin/true"],
      says: "--timeout: \"soon\" is not a duration"
    },
    {
      name: "--transport usb",
      args: ["exec", "--transport", "usb", "/bin/true"],
      says: "--transport: \"usb\" is not one of"
    },
    { name: "--arch sparc", args: ["exec", "--arch", "sparc", "/bin/true"], says: "--arch: \"sparc\" is not one of" },
    {
      name: "--kernel FILE that does not exist",
      args: ["exec", "--kernel", "/nonexistent", "/bin/true"],
      says: "--kernel: "
    },
    {
      name: "--node that does not exist",
      args: ["exec", "--node", "/nonexistent", "/bin/true"],
      says: "--node: /nonexistent does not exist"
    },
    {
      name: "--add-file that does not exist",
      args: ["exec", "--add-file", "/nonexistent", "/bin/true"],
      says: "--add-file: /nonexistent does not exist"
    },
    {
      name: "--add-module that does not exist",
      args: ["exec", "--add-module", "/nonexistent.ko", "/bin/true"],
      says: "--add-module: /nonexistent.ko does not exist"
    },
    {
      name: "--kernel-modules that does not exist",
      args: ["exec", "--kernel-modules", "/nonexistent", "/bin/true"],
      says: "--kernel-modules: /nonexistent does not exist"
    },
    {
      name: "--env without =, refused after parsing",
      args: ["exec", "--env", "FOO", "/bin/true"],
      says: "--env: \"FOO\" is not K=V"
    },
    {
      name: "an empty --hostname, refused after parsing",
      args: ["exec", "--hostname=", "/bin/true"],
      says: "--hostname: \"\" is not a host name"
    },
    {
      name: "a bad flag from .effect-sysinit-args",
      args: ["exec", "/bin/true"],
      cwd: argsFileDir("--memory", "abc"),
      says: "--memory: \"abc\" is not a whole number of MiB above 0 (from .effect-sysinit-args)"
    },
    {
      name: "an unknown flag from $EFFECT_SYSINIT_ARGS",
      args: ["exec", "/bin/true"],
      env: { EFFECT_SYSINIT_ARGS: "--bogus" },
      says: "--bogus: not a flag of effect-sysinit exec (from $EFFECT_SYSINIT_ARGS)"
    },
    {
      name: "a bad --env from $EFFECT_SYSINIT_ARGS, refused after parsing",
      args: ["exec", "/bin/true"],
      env: { EFFECT_SYSINIT_ARGS: "--env FOO" },
      says: "--env: \"FOO\" is not K=V (from $EFFECT_SYSINIT_ARGS)"
    }
  ],
  shell: [
    { name: "an unknown flag", args: ["shell", "--bogus"], says: "--bogus: not a flag of effect-sysinit shell" },
    {
      name: "--host-root, which it always has",
      args: ["shell", "--host-root"],
      says: "--host-root: not a flag of effect-sysinit shell"
    },
    { name: "a program", args: ["shell", "/bin/true"], says: "\"/bin/true\": an argument the command does not take" },
    {
      name: "--env without =, refused after parsing",
      args: ["shell", "--env", "FOO"],
      says: "--env: \"FOO\" is not K=V"
    },
    {
      name: "a guest of another architecture, refused after parsing",
      args: ["shell", "--arch", process.arch === "arm64" ? "x86_64" : "arm64"],
      says: "--arch: the shell runs the host's own userland"
    }
  ],
  bundle: [
    {
      name: "an unknown flag",
      args: ["bundle", "--bogus", hello],
      says: "--bogus: not a flag of effect-sysinit bundle"
    },
    { name: "no INIT", args: ["bundle"], says: "missing <init>" },
    {
      name: "an INIT that does not exist",
      args: ["bundle", "/nonexistent/init.ts"],
      says: "<init>: /nonexistent/init.ts does not exist"
    },
    {
      name: "a second INIT",
      args: ["bundle", hello, hello],
      says: `"${hello}": an argument the command does not take`
    },
    {
      name: "--out-dir that is a file",
      args: ["bundle", "--out-dir", "/etc/passwd", hello],
      says: "--out-dir: /etc/passwd is not a directory"
    },
    { name: "--out-dir without its value", args: ["bundle", hello, "--out-dir"], says: "--out-dir: needs a value" }
  ],
  "": [
    {
      name: "an unknown command",
      args: ["exex"],
      says: "\"exex\" is not a command of effect-sysinit; did you mean exec?"
    }
  ]
}

describe(`a refused command line: exit ${exitCodes.UsageError}, what is wrong and where the help is on stderr`, () => {
  for (const [command, rows] of Object.entries(refusals)) {
    const help = ["effect-sysinit", ...(command === "" ? [] : [command]), "--help"].join(" ")
    for (const { args, cwd, env, name, says } of rows) {
      it(
        `${command || "effect-sysinit"}: ${name}`,
        () => {
          const result = run(args, [], { ...(cwd === undefined ? {} : { cwd }), ...(env === undefined ? {} : { env }) })
          const lines = linesOf(result.stderr)
          assert.strictEqual(result.status, exitCodes.UsageError, result.stderr)
          assert.strictEqual(result.stdout, "")
          assert.isAtMost(lines.length, 3, result.stderr)
          assert.include(lines[0], `effect-sysinit: ${says}`)
          assert.strictEqual(lines.at(-1), `effect-sysinit: see ${help}`)
        },
        timeout
      )
    }
  }

  const helps: ReadonlyArray<readonly [string, ReadonlyArray<string>, string, string | undefined]> = [
    ["--help", ["--help"], "effect-sysinit <subcommand>", undefined],
    ["no command", [], "effect-sysinit <subcommand>", undefined],
    ["vm --help", ["vm", "--help"], "effect-sysinit vm [flags] <init>", undefined],
    ["exec --help", ["exec", "--help"], "effect-sysinit exec [flags] <program>", undefined],
    [
      "exec --help, with a bad flag in .effect-sysinit-args",
      ["exec", "--help"],
      "effect-sysinit exec [flags] <program>",
      argsFileDir("--memory", "abc")
    ],
    ["shell --help", ["shell", "--help"], "effect-sysinit shell [flags]", undefined],
    ["bundle --help", ["bundle", "--help"], "effect-sysinit bundle [flags] <init>", undefined]
  ]
  for (const [name, args, usage, cwd] of helps) {
    it(`prints the help on stdout and exits 0 on ${name}`, () => {
      const result = run(args, [], cwd === undefined ? {} : { cwd })
      assert.strictEqual(result.status, 0, result.stderr)
      assert.include(result.stdout, usage)
      assert.strictEqual(result.stderr, "")
    }, timeout)
  }
})

describe("the effect-sysinit command", () => {
  it("says it needs Node 24 under an older node, before loading anything", () => {
    const older =
      `data:text/javascript,Object.defineProperty(process, "versions", { value: { ...process.versions, node: "20.18.0" } })`
    const result = run(["vm", hello], ["--import", older])
    assert.strictEqual(result.status, exitCodes.RunnerFailed)
    assert.include(result.stderr, "effect-sysinit: needs Node 24 or later, this is Node 20.18.0")
  }, timeout)

  it("bundle --out-dir makes the directory when it does not exist", () => {
    const dir = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-test-"))
    try {
      const out = join(dir, "new", "out")
      const result = run(["bundle", "--out-dir", out, hello])
      assert.strictEqual(result.status, 0, result.stderr)
      assert.isTrue(fs.existsSync(join(out, "init.mjs")))
      assert.include(result.stdout, join(out, "init.mjs"))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, timeout)
})
