/**
 * The `effect-sysinit` command's refusals, run in this process
 * (cliInProcess.ts) so that the unit tier's coverage measures the command
 * line: for each kind of bad input of each command (an unknown or misspelt
 * flag, a missing or doubled one, each kind of bad value, input refused
 * after parsing, a bad flag from `.effect-sysinit-args` or
 * `$EFFECT_SYSINIT_ARGS`), exit 120, one line naming the flag and what is
 * wrong with it, one pointing at the command's --help, on stderr, and
 * nothing on stdout; all before any boot. The help when asked for, on
 * stdout. That the process itself exits with these codes is bin.test.ts's,
 * which runs `bin/effect-sysinit`.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { EventEmitter } from "node:events"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import type * as HostTerminal from "../../../src/runner/cli/hostTerminal.ts"
import { exitCodes } from "../../../src/runner/exitCodes.ts"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"
import { builtinModuleTree, fakeKernel, runCli } from "./cliInProcess.ts"

const hello = join(import.meta.dirname, "../../../examples/hello.ts")

const work = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-refusals-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

// For the refusals that come after the kernel is found: a file that passes for one, and a tree with 9p built in.
const kernel = fakeKernel(work)
const modules = builtinModuleTree(work)
const machine = ["--kernel", kernel, "--kernel-modules", modules]

const linesOf = (text: string): ReadonlyArray<string> => text.split("\n").filter((line) => line !== "")

let argsFileDirs = 0

/** A directory whose `.effect-sysinit-args` holds these lines, for exec's flags from the file. */
const argsFileDir = (...lines: ReadonlyArray<string>): string => {
  const dir = join(work, `args${++argsFileDirs}`)
  fs.mkdirSync(dir)
  fs.writeFileSync(join(dir, ".effect-sysinit-args"), lines.map((line) => `${line}\n`).join(""))
  return dir
}

/** The host's terminal on stdin, 80 by 24: a shell there runs on a terminal of the guest. */
const onTerminal: HostTerminal.Streams = {
  stdin: Object.assign(new EventEmitter(), {
    isTTY: true,
    isRaw: false,
    setRawMode: () => undefined,
    resume: () => undefined,
    pause: () => undefined,
    [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true as const, value: undefined }) })
  }),
  stdout: { isTTY: true, getWindowSize: () => [80, 24] },
  stderr: {},
  events: new EventEmitter()
}

// The shell the guest runs for SHELL=/bin/sh: the file it links to.
const sh = fs.realpathSync("/bin/sh")

const foreign = Architecture.isHost(Architecture.all.aarch64) ? "x86_64" : "arm64"

interface Refusal {
  readonly name: string
  readonly args: ReadonlyArray<string>
  /** What the first line says: the flag or argument, and what is wrong. */
  readonly says: string
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
  readonly host?: HostTerminal.Streams
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
    {
      name: "a negated switch with a value",
      args: ["vm", "--no-kvm=yes", hello],
      says: "--kvm: its negation takes no value, given \"yes\""
    },
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
      args: ["vm", "--kernel", kernel, "--output", "a", "--output", "b", "--output", "c", hello],
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
      name: "a --share that is not a directory, refused after parsing",
      args: ["exec", ...machine, "--share", "/etc/passwd", "/bin/true"],
      says: "cannot run /bin/true: --share /etc/passwd: not a directory"
    },
    {
      name: "a --share that is not HOST[:GUEST][:ro], refused after parsing",
      args: ["exec", "--share", "a:b:c:d", "/bin/true"],
      says: "cannot run /bin/true: --share a:b:c:d: expected HOST[:GUEST][:ro]"
    },
    {
      name: "a --hostname over 64 bytes, refused after parsing",
      args: ["exec", `--hostname=${"h".repeat(65)}`, "/bin/true"],
      says: `--hostname: "${"h".repeat(65)}" is not a host name of 1 to 64 bytes`
    },
    {
      name: "a bad flag from .effect-sysinit-args",
      args: ["exec", "/bin/true"],
      cwd: argsFileDir("--memory", "abc"),
      says: "--memory: \"abc\" is not a whole number of MiB above 0 (from .effect-sysinit-args)"
    },
    {
      name: "a bad flag given with = in .effect-sysinit-args",
      args: ["exec", "/bin/true"],
      cwd: argsFileDir("--memory=abc"),
      says: "--memory: \"abc\" is not a whole number of MiB above 0 (from .effect-sysinit-args)"
    },
    {
      name: "a bad flag on the command line that .effect-sysinit-args gives well: the command line's counts",
      args: ["exec", "--smp", "0", "/bin/true"],
      cwd: argsFileDir("--smp", "2"),
      says: "--smp: \"0\" is not a whole number of CPUs above 0\n"
    },
    {
      name: "a bad repeatable flag given in two sources, refused without naming one",
      args: ["exec", "--env", "A=1", "/bin/true"],
      env: { EFFECT_SYSINIT_ARGS: "--env FOO" },
      says: "--env: \"FOO\" is not K=V\n"
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
      args: ["shell", "--arch", foreign],
      says: "--arch: the shell runs the host's own userland"
    },
    {
      name: "a terminal on stdin without setsid in PATH, refused after parsing",
      args: ["shell", ...machine],
      env: { PATH: work, SHELL: "/bin/sh" },
      host: onTerminal,
      says: `cannot run ${sh}: its terminal needs util-linux's setsid in PATH`
    },
    {
      name: "a --share that is not a directory, refused after parsing",
      args: ["shell", ...machine, "--share", "/etc/passwd"],
      env: { SHELL: "/bin/sh" },
      says: `cannot run ${sh}: --share /etc/passwd: not a directory`
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
      name: "two more INITs",
      args: ["bundle", hello, hello, hello],
      says: `"${hello}", "${hello}": arguments the command does not take`
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
    },
    { name: "a command like none", args: ["zzz"], says: "\"zzz\" is not a command of effect-sysinit\n" }
  ]
}

describe(`a refused command line: exit ${exitCodes.UsageError}, what is wrong and where the help is on stderr`, () => {
  for (const [command, rows] of Object.entries(refusals)) {
    const help = ["effect-sysinit", ...(command === "" ? [] : [command]), "--help"].join(" ")
    for (const { args, cwd, env, host, name, says } of rows) {
      it(`${command || "effect-sysinit"}: ${name}`, async () => {
        const result = await runCli(args, {
          cwd,
          host,
          // The default kernel is the fake one: a refusal after the kernel is found fetches none.
          env: {
            SYSINIT_CACHE_DIR: join(work, "cache"),
            SYSINIT_KERNEL: kernel,
            EFFECT_SYSINIT_ARGS: undefined,
            ...env
          }
        })
        const lines = linesOf(result.stderr)
        assert.strictEqual(result.status, exitCodes.UsageError, result.stderr)
        assert.strictEqual(result.stdout, "")
        assert.lengthOf(lines, 2, result.stderr)
        // A complaint that ends in a newline is the whole line.
        assert.isTrue(`${lines[0]}\n`.startsWith(`effect-sysinit: ${says}`), lines[0])
        assert.strictEqual(lines[1], `effect-sysinit: see ${help}`)
      }, 60_000)
    }
  }
})

describe("the help, when asked for", () => {
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
    it(`is printed on stdout, exit 0, on ${name}`, async () => {
      const result = await runCli(args, { cwd, env: { SYSINIT_CACHE_DIR: join(work, "cache") } })
      assert.strictEqual(result.status, 0, result.stderr)
      assert.include(result.stdout, usage)
      assert.strictEqual(result.stderr, "")
    })
  }

  it("--version prints the version on stdout", async () => {
    const result = await runCli(["--version"], { env: { SYSINIT_CACHE_DIR: join(work, "cache") } })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^effect-sysinit v?0\.1\.0\n$/)
  })
})
