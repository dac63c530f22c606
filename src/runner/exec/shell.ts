/**
 * The program of `effect-sysinit shell`: which shell, among those the guest
 * has through the host's root and the shares, and what its terminal needs
 * there. Checked on the host, before a boot: the guest sees the host's own
 * files.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option } from "effect"
import * as Architecture from "../machine/Architecture.ts"
import { InvalidInput } from "../machine/Preflight.ts"
import { findInPath, ProgramUnusable } from "./program.ts"
import { type Share, shownByHostRoot, visibleAt } from "./shares.ts"

/**
 * The shells `shell` tries, in order: `$SHELL`, then bash, then sh.
 *
 * @since 0.1.0
 * @category resolution
 */
export const shellCandidates = (hostEnv: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> => [
  ...(hostEnv["SHELL"]?.startsWith("/") === true ? [hostEnv["SHELL"]] : []),
  "/bin/bash",
  "/bin/sh"
]

/** Whether the guest has a host path at its own path: through the host's root or a share at the same path. */
const inGuest = (hostPath: string, shares: ReadonlyArray<Share>): boolean =>
  shownByHostRoot(hostPath) || visibleAt(hostPath, shares, true) === hostPath

/**
 * The host file of a path the guest has, links followed (the guest runs it
 * in place), when it is an executable file there.
 */
const executableInGuest = Effect.fnUntraced(function*(candidate: string, shares: ReadonlyArray<Share>) {
  const fs = yield* FileSystem.FileSystem
  if (!inGuest(candidate, shares)) return Option.none<string>()
  const real = yield* fs.realPath(candidate).pipe(Effect.option)
  if (Option.isNone(real) || !inGuest(real.value, shares)) return Option.none<string>()
  const info = yield* fs.stat(real.value).pipe(Effect.option)
  return Option.isSome(info) && info.value.type === "File" && (info.value.mode & 0o111) !== 0
    ? real
    : Option.none<string>()
})

/**
 * The shell to run: the first of `shellCandidates` that the guest has,
 * as the host file it is (links followed: `/bin/bash` is `/usr/bin/bash` on
 * a merged-/usr host). The guest runs the host's userland, so it must be
 * the host's architecture.
 *
 * @since 0.1.0
 * @category resolution
 */
export const chooseShell = Effect.fn("Shell.chooseShell")(function*(options: {
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  readonly shares: ReadonlyArray<Share>
  readonly arch: Architecture.Facts | undefined
}) {
  const candidates = shellCandidates(options.hostEnv)
  if (options.arch !== undefined && !Architecture.isHost(options.arch)) {
    return yield* new InvalidInput({
      flag: "--arch",
      reason: `the shell runs the host's own userland, which an ${options.arch.name} guest cannot run`
    })
  }
  for (const candidate of candidates) {
    const found = yield* executableInGuest(candidate, options.shares)
    if (Option.isSome(found)) return found.value
  }
  return yield* new ProgramUnusable({
    program: candidates.join(", "),
    reason: "none is an executable file the guest has (the host's /usr, /bin, /etc, /opt, /home, or a --share)"
  })
})

/**
 * Refuses a terminal the guest cannot give its shell: the shell is started
 * in a session of its own by util-linux's `setsid`, which the guest finds
 * in the host's `PATH`.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkTerminalSupport = Effect.fn("Shell.checkTerminalSupport")(function*(options: {
  readonly shell: string
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  readonly shares: ReadonlyArray<Share>
}) {
  const setsid = yield* findInPath("setsid", options.hostEnv["PATH"])
  const found = Option.isSome(setsid) ? yield* executableInGuest(setsid.value, options.shares) : Option.none()
  if (Option.isNone(found)) {
    return yield* new ProgramUnusable({
      program: options.shell,
      reason:
        "its terminal needs util-linux's setsid in PATH, in a directory the guest has (apt-get install util-linux)"
    })
  }
})
