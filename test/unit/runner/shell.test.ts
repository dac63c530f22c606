import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import type { Share } from "../../../src/runner/exec/shares.ts"
import * as Shell from "../../../src/runner/exec/shell.ts"
import * as Architecture from "../../../src/runner/machine/Architecture.ts"

// A directory the host's root does not show (a temporary one), with a shell of its own and a file that runs nothing.
const dir = fs.mkdtempSync(join(os.tmpdir(), "effect-sysinit-shell-"))
const ownShell = join(dir, "own-shell")
fs.copyFileSync("/bin/sh", ownShell)
fs.chmodSync(ownShell, 0o755)
const notExecutable = join(dir, "not-executable")
fs.writeFileSync(notExecutable, "", { mode: 0o644 })
const shared: ReadonlyArray<Share> = [{ host: dir, guest: dir, readOnly: false }]
const elsewhere: ReadonlyArray<Share> = [{ host: dir, guest: "/elsewhere", readOnly: false }]

const bash = fs.realpathSync("/bin/bash")
const sh = fs.realpathSync("/bin/sh")

const choose = (env: Record<string, string>, shares: ReadonlyArray<Share> = [], arch?: Architecture.Facts) =>
  Shell.chooseShell({ hostEnv: env, shares, arch }).pipe(Effect.provide(NodeServices.layer))

const checkTerminal = (path: string) =>
  Shell.checkTerminalSupport({ shell: bash, hostEnv: { PATH: path }, shares: [] }).pipe(
    Effect.provide(NodeServices.layer)
  )

describe("shell's shell", () => {
  const choices: ReadonlyArray<readonly [string, Record<string, string>, ReadonlyArray<Share>, string]> = [
    ["$SHELL, as the host file it is, links followed", { SHELL: "/bin/sh" }, [], sh],
    ["bash without $SHELL", {}, [], bash],
    ["bash for a $SHELL that does not exist", { SHELL: "/nonexistent/zsh" }, [], bash],
    ["bash for a relative $SHELL", { SHELL: "sh" }, [], bash],
    [
      "bash for a $SHELL the guest does not have (outside the host's root and the shares)",
      { SHELL: ownShell },
      [],
      bash
    ],
    ["bash for a $SHELL in a share at another path", { SHELL: ownShell }, elsewhere, bash],
    ["$SHELL in a share at its own path", { SHELL: ownShell }, shared, ownShell],
    ["bash for a $SHELL that is not executable", { SHELL: notExecutable }, shared, bash]
  ]
  for (const [name, env, shares, expected] of choices) {
    it.effect(`is ${name}`, () => Effect.map(choose(env, shares), (chosen) => assert.strictEqual(chosen, expected)))
  }

  it.effect("is refused for a guest of another architecture: it runs the host's userland", () =>
    Effect.gen(function*() {
      const foreign = Architecture.isHost(Architecture.all.aarch64) ? Architecture.all.x86_64 : Architecture.all.aarch64
      const error = yield* Effect.flip(choose({ SHELL: "/bin/sh" }, [], foreign))
      assert.strictEqual(error._tag, "InvalidInput")
      assert.strictEqual(
        error.message,
        `--arch: the shell runs the host's own userland, which an ${foreign.name} guest cannot run`
      )
    }))

  it.effect("has its terminal when setsid is in PATH, in a directory the guest has; is refused without", () =>
    Effect.gen(function*() {
      yield* checkTerminal("/usr/bin:/bin")
      const error = yield* Effect.flip(checkTerminal(dir))
      assert.include(error.message, "its terminal needs util-linux's setsid")
    }))
})
