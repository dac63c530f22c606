/**
 * Host directories in the guest under `exec`: the `--share` flags, the
 * host's root (`--host-root`), and where a host path shows in the guest
 * through them.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option } from "effect"
import type { HostRootSpec } from "../../protocol/execSpec.ts"

/**
 * A `--share HOST[:GUEST][:ro]` flag, read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Share {
  readonly host: string
  readonly guest: string
  readonly readOnly: boolean
}

/**
 * The normal form of an absolute path: no `.`, `..` or empty parts.
 *
 * @since 0.1.0
 * @category parsing
 */
export const normalize = (p: string): string => {
  const out: Array<string> = []
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") out.pop()
    else out.push(part)
  }
  return `/${out.join("/")}`
}

/**
 * Whether `p` is `dir` or below it.
 *
 * @since 0.1.0
 * @category predicates
 */
export const within = (dir: string, p: string): boolean => dir === "/" || p === dir || p.startsWith(`${dir}/`)

/**
 * Reads `HOST[:GUEST][:ro]`; relative paths are taken from `cwd`, GUEST
 * defaults to HOST's absolute path.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseShare = (text: string, cwd: string): Share | undefined => {
  const parts = text.split(":")
  const readOnly = parts.length > 1 && parts.at(-1) === "ro"
  if (readOnly) parts.pop()
  if (parts.length > 2 || parts[0] === "" || parts.some((part) => part.includes("\0"))) return undefined
  const resolve = (p: string) => normalize(p.startsWith("/") ? p : `${cwd}/${p}`)
  const host = resolve(parts[0]!)
  const guest = parts[1] === undefined || parts[1] === "" ? host : parts[1]
  if (!guest.startsWith("/")) return undefined
  return { host, guest: normalize(guest), readOnly }
}

/**
 * QEMU's mount tag of the share at `index`.
 *
 * @since 0.1.0
 * @category constants
 */
export const shareTag = (index: number): string => `share${index}`

/**
 * The mount tag of the host's root.
 *
 * @since 0.1.0
 * @category constants
 */
export const hostRootTag = "hostroot"

/**
 * Where the host's root is mounted in the guest.
 *
 * @since 0.1.0
 * @category constants
 */
export const hostRootMountPoint = "/host"

/** The host's directories the guest sees at their own paths with `--host-root`. */
const hostRootDirectories = ["/usr", "/etc", "/opt", "/home"]
/** The host's top-level links (`/bin` → `usr/bin` on a merged-/usr system), or directories where they are not links. */
const hostRootLinks = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
// The initramfs holds these as directories (libraries at their host paths): a link cannot replace them.
const initramfsDirectories = new Set(["/lib", "/lib64"])
const hostRootTmpfs = ["/tmp", "/run", "/var/tmp", "/root"]

/**
 * Whether a host path shows at its own path in a guest with the host's
 * root: under /usr, /etc, /opt or /home, or under a top-level link into
 * them (`/bin`, `/lib`, … on a merged-/usr host).
 *
 * @since 0.1.0
 * @category predicates
 */
export const shownByHostRoot = (hostPath: string): boolean =>
  [...hostRootDirectories, ...hostRootLinks].some((dir) => within(dir, hostPath))

/**
 * The guest path of a host file when it is inside a share (the last one
 * given wins), or shown through the host's root.
 *
 * @since 0.1.0
 * @category resolution
 */
export const visibleAt = (
  hostPath: string,
  shares: ReadonlyArray<Share>,
  hostRoot: boolean
): string | undefined => {
  for (const share of shares.toReversed()) {
    if (within(share.host, hostPath)) return share.guest + hostPath.slice(share.host === "/" ? 0 : share.host.length)
  }
  if (hostRoot && hostRootDirectories.some((dir) => within(dir, hostPath))) return hostPath
  return undefined
}

/**
 * The host's root as the guest shows it: its directories bound, its links,
 * fresh tmpfs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hostRootSpec = Effect.fnUntraced(function*() {
  const fs = yield* FileSystem.FileSystem
  const binds: Array<{ source: string; target: string }> = []
  const links: Array<{ path: string; target: string }> = []
  for (const dir of hostRootDirectories) {
    if (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false))) binds.push({ source: dir, target: dir })
  }
  for (const dir of hostRootLinks) {
    const target = yield* fs.readLink(dir).pipe(Effect.option)
    if (Option.isSome(target)) {
      const resolved = normalize(target.value.startsWith("/") ? target.value : `/${target.value}`)
      if (initramfsDirectories.has(dir)) binds.push({ source: resolved, target: dir })
      else links.push({ path: dir, target: target.value })
    } else if (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false))) {
      binds.push({ source: dir, target: dir })
    }
  }
  return {
    tag: hostRootTag,
    mountPoint: hostRootMountPoint,
    binds,
    links,
    tmpfs: hostRootTmpfs
  } satisfies HostRootSpec
})
