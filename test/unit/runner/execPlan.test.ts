import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { type GuestInput, guestSettings } from "../../../src/runner/exec/execFlags.ts"
import * as ExecPlan from "../../../src/runner/exec/ExecPlan.ts"
import { programArchitecture } from "../../../src/runner/exec/program.ts"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"

const dir = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-plan-"))
const file = (name: string, contents: string | Uint8Array, mode = 0o755) => {
  const path = join(dir, name)
  fs.writeFileSync(path, contents, { mode })
  return path
}

// An ELF header of a 64-bit little-endian executable for `machine`, nothing after it.
const elfHeader = (machine: number) => {
  const header = new Uint8Array(64)
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1])
  new DataView(header.buffer).setUint16(16, 2, true)
  new DataView(header.buffer).setUint16(18, machine, true)
  return header
}

// A module tree whose kernel has 9p and virtio built in.
const builtinTree = join(dir, "builtin-tree")
fs.mkdirSync(join(builtinTree, "kernel"), { recursive: true })
fs.writeFileSync(
  join(builtinTree, "modules.builtin"),
  "kernel/fs/9p/9p.ko\nkernel/net/9p/9pnet_virtio.ko\nkernel/drivers/virtio/virtio_pci.ko\n"
)

const options = (program: string, extra: Partial<ExecPlan.PlanOptions> = {}): ExecPlan.PlanOptions => ({
  program,
  args: ["a b"],
  cwd: dir,
  shares: [],
  hostRoot: false,
  arch: Architecture.all.x86_64,
  moduleTree: undefined,
  hostEnv: { PATH: "/usr/bin:/bin", TERM: "xterm" },
  color: { NO_COLOR: "1" },
  guest: { env: {} },
  runShare: false,
  ...extra
})

const plan = (program: string, extra: Partial<ExecPlan.PlanOptions> = {}) =>
  ExecPlan.plan(options(program, extra)).pipe(Effect.provide(NodeServices.layer))

const refusal = (program: string, extra: Partial<ExecPlan.PlanOptions> = {}) =>
  Effect.map(Effect.exit(plan(program, extra)), (exit) => {
    assert.isTrue(Exit.isFailure(exit))
    return Exit.isFailure(exit) ? String(exit.cause) : ""
  })

const arch = (program: string) =>
  Effect.map(
    programArchitecture(program, dir, { PATH: "/usr/bin:/bin" }).pipe(Effect.provide(NodeServices.layer)),
    (facts) => facts.name
  )

describe("exec's plan", () => {
  it.effect("copies a dynamic ELF of the host to /exec and runs it with its arguments", () =>
    Effect.gen(function*() {
      const planned = yield* plan("/bin/sh")
      assert.strictEqual(planned.spec.command, "/exec/sh")
      assert.deepStrictEqual(planned.spec.args, ["a b"])
      assert.deepInclude(planned.runFiles, { guest: "/exec/sh", source: "/bin/sh", mode: 0o755 })
      assert.strictEqual(planned.spec.cwd, "/")
      assert.deepStrictEqual(planned.spec.env, {
        PATH: "/exec:/data:/usr/bin:/bin",
        HOME: "/root",
        TERM: "xterm",
        NO_COLOR: "1"
      })
      assert.deepStrictEqual(planned.imageModules, [])
    }))

  it.effect("refuses an ELF of another machine before any boot", () =>
    Effect.map(refusal(file("arm64", elfHeader(183))), (cause) => {
      assert.include(cause, "an aarch64 program, the guest is x86_64 (--arch)")
    }))

  it.effect("picks the guest's architecture from an ELF program, as virtrun does; the host's for anything else", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* arch(file("arm64-program", elfHeader(183))), "aarch64")
      assert.strictEqual(yield* arch(file("x86-program", elfHeader(62))), "x86_64")
      assert.strictEqual(yield* arch("sh"), "x86_64")
      assert.strictEqual(yield* arch(file("script.sh", "#!/bin/sh\n")), "x86_64")
      assert.strictEqual(yield* arch(file("riscv-program", elfHeader(243))), "x86_64")
    }))

  it.effect("runs a .mjs file with node, and packs a script's interpreter at its path", () =>
    Effect.gen(function*() {
      const script = yield* plan(file("hello.mjs", "console.log(1)\n", 0o644))
      assert.strictEqual(script.spec.command, "node")
      assert.deepStrictEqual(script.spec.args, ["/exec/hello.mjs", "a b"])
      const shell = yield* plan(file("run.sh", "#!/bin/sh\necho hi\n"))
      assert.strictEqual(shell.spec.command, "/exec/run.sh")
      assert.isTrue(shell.runFiles.some((entry) => entry.guest === "/usr/bin/sh"), JSON.stringify(shell.runFiles))
    }))

  it.effect("refuses a script whose interpreter does not exist, and a file of no known kind", () =>
    Effect.gen(function*() {
      assert.include(yield* refusal(file("bad.sh", "#!/nonexistent/sh\n")), "its interpreter /nonexistent/sh")
      assert.include(yield* refusal(file("notes.txt", "just text\n")), "neither an ELF executable")
      assert.include(yield* refusal("no-such-program-anywhere"), "not found in PATH")
    }))

  it.effect("runs a program inside a share in place, in the host's working directory", () =>
    Effect.gen(function*() {
      const program = file("in-share.sh", "#!/bin/sh\n")
      const planned = yield* plan(program, {
        shares: [{ host: dir, guest: "/project", readOnly: false }],
        moduleTree: builtinTree
      })
      assert.strictEqual(planned.spec.command, "/project/in-share.sh")
      assert.strictEqual(planned.spec.cwd, "/project")
      assert.deepStrictEqual(planned.shares, [{ tag: "share0", path: dir, readOnly: false, multidevs: false }])
      assert.deepStrictEqual(planned.spec.shares, [{ tag: "share0", guest: "/project", readOnly: false }])
    }))

  it.effect("refuses shares when the kernel's module tree is unknown, and a tree without 9p", () =>
    Effect.gen(function*() {
      const shares = [{ host: dir, guest: dir, readOnly: true }]
      assert.include(yield* refusal("/bin/sh", { shares }), "the kernel's module tree is unknown")
      const tree = join(dir, "tree")
      fs.mkdirSync(join(tree, "kernel/drivers"), { recursive: true })
      fs.writeFileSync(join(tree, "kernel/drivers/dummy.ko"), "")
      fs.writeFileSync(join(tree, "modules.builtin"), "")
      assert.include(
        yield* refusal("/bin/sh", { shares, moduleTree: tree }),
        "needs the kernel module 9p: it is neither built into the kernel nor in"
      )
    }))

  it.effect("needs no module file for what the kernel has built in", () =>
    Effect.gen(function*() {
      const shares = [{ host: dir, guest: dir, readOnly: true }]
      const planned = yield* plan("/bin/sh", { shares, moduleTree: builtinTree })
      assert.deepStrictEqual(planned.imageModules, [])
    }))
})

describe("exec's guest settings", () => {
  const settings: ReadonlyArray<readonly [string, GuestInput, string | object]> = [
    ["--env pairs", { env: ["A=1", "B=x=y"], hostname: Option.none() }, { env: { A: "1", B: "x=y" } }],
    ["--env without =", { env: ["A"], hostname: Option.none() }, "--env: \"A\" is not K=V"],
    ["--hostname", { env: [], hostname: Option.some("guest") }, { env: {}, hostname: "guest" }],
    ["an empty --hostname", { env: [], hostname: Option.some("") }, "is not a host name of 1 to 64 bytes"],
    [
      "a --hostname over 64 bytes",
      { env: [], hostname: Option.some("x".repeat(65)) },
      "is not a host name of 1 to 64 bytes"
    ]
  ]
  for (const [name, input, expected] of settings) {
    it(`reads ${name}`, () => {
      const result = guestSettings(input)
      if (typeof expected === "string") {
        assert.include(Result.isFailure(result) ? result.failure.message : "accepted", expected)
      } else assert.deepInclude(Result.getOrThrow(result), expected)
    })
  }

  it.effect("go into the description as they are", () =>
    Effect.gen(function*() {
      const planned = yield* plan("/bin/sh", { guest: { env: { A: "1" }, hostname: "guest" } })
      assert.strictEqual(planned.spec.hostname, "guest")
      assert.strictEqual(planned.spec.env["A"], "1")
    }))
})

describe("exec's plan of node", () => {
  it.effect("a program that is the image's own node runs the image's copy, not the host's file over 9p", () =>
    Effect.gen(function*() {
      const node = file("node-copy", "#!/bin/sh\n")
      const link = join(dir, "node-link")
      fs.symlinkSync(node, link)
      const planned = yield* plan(link, {
        shares: [{ host: dir, guest: dir, readOnly: true }],
        moduleTree: builtinTree,
        imageNode: node
      })
      assert.strictEqual(planned.spec.command, "/.effect-sysinit/node")
      const other = yield* plan(file("other-script", "#!/bin/sh\n"), {
        shares: [{ host: dir, guest: dir, readOnly: true }],
        moduleTree: builtinTree,
        imageNode: node
      })
      assert.strictEqual(other.spec.command, join(dir, "other-script"))
    }))
})

/** ExecPlan.make as shell calls it, with `input`. */
const makeShellPlan = (input: Pick<ExecPlan.ExecInput, "terminal" | "inputs">) =>
  ExecPlan.make({
    program: "/bin/sh",
    args: [],
    cwd: dir,
    hostEnv: { PATH: "/usr/bin:/bin", TERM: "xterm" },
    color: {},
    arch: Architecture.all.x86_64,
    transport: "virtio",
    kernel: undefined,
    kernelModules: builtinTree,
    shares: [],
    hostRoot: false,
    outputs: [],
    goTestRewrite: false,
    guest: { env: [], hostname: Option.none() },
    node: undefined,
    addFiles: [],
    addModules: [],
    ...input
  }).pipe(Effect.provide(NodeServices.layer))

describe("shell's plan", () => {
  it.effect("the bytes read from stdin travel as a file of the run that the description names as stdin", () =>
    Effect.gen(function*() {
      const stdin = new TextEncoder().encode("echo hi\nexit 3\n")
      // As shell plans: with the host's root, where the shell runs in place.
      const planned = yield* plan("/usr/bin/true", { stdin, hostRoot: true, moduleTree: builtinTree, runShare: true })
      assert.strictEqual(planned.spec.stdin, ExecPlan.stdinPath)
      const inline = planned.spec.inlineFiles?.find((entry) => entry.path === ExecPlan.stdinPath)
      assert.deepStrictEqual(
        { mode: inline?.mode, data: Buffer.from(inline?.data ?? "", "base64").toString() },
        { mode: 0o644, data: "echo hi\nexit 3\n" }
      )
      const without = yield* plan("/usr/bin/true", { hostRoot: true, moduleTree: builtinTree, runShare: true })
      assert.isUndefined(without.spec.stdin)
      assert.isUndefined(without.spec.inlineFiles?.find((entry) => entry.path === ExecPlan.stdinPath))
    }))

  it.effect("a terminal is a console of its own, after the inputs and before the control console, at the size given", () =>
    Effect.gen(function*() {
      const planned = yield* makeShellPlan({ inputs: ["/tmp/in.sock"], terminal: { rows: 30, columns: 100 } })
      // Consoles: 0 log, 1 stdout, 2 stderr, 3 the input, 4 the terminal, 5 control.
      assert.deepStrictEqual(planned.spec.terminal, { device: "/dev/virtrun4", windowSize: { rows: 30, columns: 100 } })
      assert.strictEqual(planned.spec.env["EFFECT_SYSINIT_INPUTS"], "/dev/virtrun3")
      assert.isUndefined((yield* makeShellPlan({ inputs: [], terminal: undefined })).spec.terminal)
    }))
})
