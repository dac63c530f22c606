import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Abi from "../../src/internal/abi.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import * as Share from "../../src/Share.ts"
import { syscallError, withKernel } from "./helpers.ts"

const with9p = { filesystems: ["9p", "tmpfs"] }

describe("Share.mountShare", () => {
  it.effect("mounts a read-only share over 9p at a path it makes, read-only, its pages cached", () =>
    Effect.gen(function*() {
      yield* Share.mountShare({ tag: "share0", guest: "/work/project", readOnly: true })
      const kernel = yield* MemoryKernel
      assert.deepStrictEqual(kernel.state.mounts, [{
        source: "share0",
        target: "/work/project",
        fsType: "9p",
        flags: Abi.MS_RDONLY,
        data: "trans=virtio,version=9p2000.L,msize=512000,cache=loose"
      }])
      assert.strictEqual(kernel.state.tree.get("/work")?.type, "directory")
    }).pipe(withKernel(with9p)))

  it.effect("mounts a read-write share uncached, so that every write reaches the host", () =>
    Effect.gen(function*() {
      yield* Share.mountShare({ tag: "share1", guest: "/out", readOnly: false })
      const [entry] = (yield* MemoryKernel).state.mounts
      assert.deepStrictEqual([entry?.flags, entry?.data], [0, "trans=virtio,version=9p2000.L,msize=512000,cache=none"])
    }).pipe(withKernel(with9p)))

  it.effect("on a kernel without 9p is mount's ENODEV at the share's path", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Share.mountShare({ tag: "share0", guest: "/work", readOnly: true }))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["mount", "ENODEV", "/work"])
    }).pipe(withKernel({ filesystems: ["tmpfs"] })))
})

describe("Share.withShares", () => {
  it.effect("mounts each share in order, and stops at the first that fails", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "mount", errno: "EACCES", path: "/c" })
      const error = yield* syscallError(Share.withShares([
        { tag: "a", guest: "/a", readOnly: true },
        { tag: "b", guest: "/b", readOnly: false },
        { tag: "c", guest: "/c", readOnly: true },
        { tag: "d", guest: "/d", readOnly: true }
      ]))
      assert.strictEqual(error.path, "/c")
      assert.deepStrictEqual(kernel.state.mounts.map((entry) => `${entry.source} ${entry.target}`), ["a /a", "b /b"])
    }).pipe(withKernel(with9p)))
})

describe("Share.mountHostRoot", () => {
  const spec = {
    tag: "hostroot",
    mountPoint: "/host",
    binds: [{ source: "/usr", target: "/usr" }, { source: "/etc", target: "/etc" }],
    links: [{ path: "/sbin", target: "usr/sbin" }, { path: "/lib", target: "usr/lib" }],
    tmpfs: ["/tmp", "/run", "/var/tmp"]
  }

  it.effect("mounts the host's root read-only, binds its directories, links where the guest has nothing, and fresh tmpfs", () =>
    Effect.gen(function*() {
      yield* Share.mountHostRoot(spec)
      const kernel = yield* MemoryKernel
      assert.deepStrictEqual(
        kernel.state.mounts.map((entry) => [entry.source, entry.target, entry.fsType, entry.flags, entry.data]),
        [
          ["hostroot", "/host", "9p", Abi.MS_RDONLY, "trans=virtio,version=9p2000.L,msize=512000,cache=loose"],
          ["/host/usr", "/usr", "", Abi.MS_BIND | Abi.MS_REC, ""],
          ["/host/etc", "/etc", "", Abi.MS_BIND | Abi.MS_REC, ""],
          ["tmpfs", "/tmp", "tmpfs", Abi.MS_NOSUID | Abi.MS_NODEV, "mode=1777"],
          ["tmpfs", "/run", "tmpfs", Abi.MS_NOSUID | Abi.MS_NODEV, "mode=0755"],
          ["tmpfs", "/var/tmp", "tmpfs", Abi.MS_NOSUID | Abi.MS_NODEV, "mode=1777"]
        ]
      )
      assert.deepStrictEqual(kernel.state.tree.get("/sbin"), { type: "symlink", target: "usr/sbin" })
      assert.strictEqual(kernel.state.tree.get("/lib")?.type, "directory", "the guest's own /lib stays")
    }).pipe(withKernel({ ...with9p, directories: ["/host/usr", "/host/etc", "/lib"] })))

  it.effect("fails with the bind's ENOENT when the host has no such directory, having bound nothing", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Share.mountHostRoot(spec))
      assert.deepStrictEqual([error.syscall, error.errno], ["mount", "ENOENT"])
      assert.deepStrictEqual((yield* MemoryKernel).state.mounts.map((entry) => entry.target), ["/host"])
    }).pipe(withKernel(with9p)))
})
