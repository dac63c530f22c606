import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { MemoryKernel } from "../../src/Layer.ts"
import * as Mount from "../../src/Mount.ts"
import { captureLogs, syscallError, withKernel } from "./helpers.ts"

const systemPaths = Object.keys(Mount.systemMountPoints())

/** The points of `points` in the order of random sort keys, one per point (a point without one keeps its place). */
const shuffled = (points: Mount.MountPoints, keys: ReadonlyArray<number>): Mount.MountPoints => {
  const paths = Object.keys(points)
  const order = paths.map((path, i) => ({ path, key: keys[i] ?? i })).toSorted((a, b) => a.key - b.key)
  return Object.fromEntries(order.map(({ path }) => [path, points[path]!]))
}

describe("the shuffle of the property tests", () => {
  it("puts the points in the order of their keys", () => {
    const point = { fsType: "tmpfs" }
    const points = { "/a": point, "/b": point, "/c": point, "/d": point }
    assert.deepStrictEqual(Object.keys(shuffled(points, [3, 0, 2, 1])), ["/b", "/d", "/c", "/a"])
    assert.deepStrictEqual(Object.keys(shuffled(points, [9])), ["/b", "/c", "/d", "/a"])
  })
})

describe("Mount.mount", () => {
  it.effect("creates the directory with its parents, mode 0755, then mounts", () =>
    Effect.gen(function*() {
      yield* Mount.mount("/a/b/c", { fsType: Mount.FSType.Tmp, flags: Mount.MS_NOSUID, data: "size=1m" })
      const { state } = yield* MemoryKernel
      assert.deepStrictEqual(state.tree.get("/a/b"), { type: "directory", mode: 0o755 })
      assert.deepStrictEqual(state.mounts, [{
        source: "tmpfs",
        target: "/a/b/c",
        fsType: "tmpfs",
        flags: Mount.MS_NOSUID,
        data: "size=1m"
      }])
    }).pipe(withKernel()))

  it.effect.each([
    { name: "no source", source: undefined, expected: "proc" },
    { name: "an empty source", source: "", expected: "proc" },
    { name: "a source", source: "none", expected: "none" }
  ])("takes the type's name as the source when given $name", ({ expected, source }) =>
    Effect.gen(function*() {
      yield* Mount.mount("/proc", { fsType: "proc", source })
      assert.strictEqual((yield* MemoryKernel).state.mounts[0]?.source, expected)
    }).pipe(withKernel()))

  it.effect("mounting on an empty path fails with ENOENT", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* syscallError(Mount.mount("", { fsType: "tmpfs" }))).errno, "ENOENT")
    }).pipe(withKernel()))

  it.effect("an unknown type fails with ENODEV from mount, after the directory was made", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Mount.mount("/x", { fsType: "nosuchfs" }))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["mount", "ENODEV", "/x"])
    }).pipe(withKernel()))
})

describe("Mount.mountAll", () => {
  it.effect.prop(
    "mounts in lexicographic order of path whatever the order given",
    [Schema.Array(Schema.Finite)],
    ([keys]) =>
      Effect.gen(function*() {
        const points = shuffled({ ...Mount.essentialMountPoints(), ...Mount.systemMountPoints() }, keys)
        yield* Mount.mountAll(points)
        const targets = (yield* MemoryKernel).state.mounts.map((m) => m.target)
        assert.deepStrictEqual(targets, [...targets].toSorted())
        assert.strictEqual(targets.length, 14)
      }).pipe(withKernel())
  )

  it.effect.prop(
    "collects every optional failure and reports them together after mounting all the others",
    [Schema.Array(Schema.Boolean), Schema.Array(Schema.Finite)],
    ([failing, keys]) =>
      Effect.gen(function*() {
        const kernel = yield* MemoryKernel
        const broken = systemPaths.filter((_, i) => failing[i] === true)
        for (const path of broken) kernel.fail({ call: "mount", errno: "EPERM", path })
        const exit = yield* Effect.exit(Mount.mountAll(shuffled(Mount.systemMountPoints(), keys)))
        const mounted = kernel.state.mounts.map((m) => m.target)
        assert.deepStrictEqual(mounted, systemPaths.filter((path) => !broken.includes(path)).toSorted())
        if (broken.length === 0) {
          assert.isTrue(Exit.isSuccess(exit))
        } else {
          const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
          assert.strictEqual(error?._tag, "Fail")
          const failure = (error as { readonly error: Mount.OptionalMountError }).error
          assert.strictEqual(failure._tag, "OptionalMountError")
          assert.deepStrictEqual(failure.errors.map((e) => e.path), [...broken].toSorted())
          assert.isTrue(failure.errors.every((e) => e.errno === "EPERM"))
        }
      }).pipe(withKernel())
  )

  it.effect("a required point that fails stops the rest with its own error", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "mount", errno: "EACCES", path: "/proc" })
      const error = yield* syscallError(
        Mount.mountAll({ ...Mount.essentialMountPoints(), ...Mount.systemMountPoints() })
      )
      assert.deepStrictEqual([error.errno, error.path], ["EACCES", "/proc"])
      assert.deepStrictEqual(kernel.state.mounts.map((m) => m.target), [
        "/dev",
        "/dev/hugepages",
        "/dev/mqueue",
        "/dev/pts"
      ])
    }).pipe(withKernel()))
})

describe("mount point sets", () => {
  it("the essential points are /dev, /proc and /sys, required, with the Go package's flags", () => {
    const nsn = Mount.MS_NOSUID | Mount.MS_NODEV | Mount.MS_NOEXEC
    assert.deepStrictEqual(Mount.essentialMountPoints(), {
      "/dev": { fsType: "devtmpfs", flags: Mount.MS_NOSUID },
      "/proc": { fsType: "proc", flags: nsn },
      "/sys": { fsType: "sysfs", flags: nsn }
    })
  })

  it("the system points are the eleven optional ones", () => {
    const points = Mount.systemMountPoints()
    assert.deepStrictEqual(systemPaths.toSorted(), [
      "/dev/hugepages",
      "/dev/mqueue",
      "/dev/pts",
      "/sys/fs/bpf",
      "/sys/fs/cgroup",
      "/sys/fs/fuse/connections",
      "/sys/fs/pstore",
      "/sys/kernel/config",
      "/sys/kernel/debug",
      "/sys/kernel/security",
      "/sys/kernel/tracing"
    ])
    assert.isTrue(Object.values(points).every((p) => p.optional === true))
    assert.strictEqual(points["/dev/hugepages"]?.flags, undefined)
    assert.strictEqual(points["/dev/pts"]?.flags, Mount.MS_NOSUID | Mount.MS_NOEXEC)
    assert.strictEqual(points["/sys/fs/bpf"]?.flags, Mount.MS_NOSUID | Mount.MS_NODEV | Mount.MS_NOEXEC)
  })
})

describe("Mount.withMountPoints", () => {
  it.effect("logs each optional failure and goes on", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "mount", errno: "ENODEV", path: "/sys/kernel/debug" })
      kernel.fail({ call: "mount", errno: "EPERM", path: "/dev/mqueue" })
      const [, logged] = yield* captureLogs(Mount.withMountPoints(Mount.systemMountPoints()))
      assert.strictEqual(kernel.state.mounts.length, 9)
      assert.deepStrictEqual(logged, [
        "optional mount failed: mount \"/dev/mqueue\": EPERM (operation not permitted)",
        "optional mount failed: mount \"/sys/kernel/debug\": ENODEV (no such device)"
      ])
    }).pipe(withKernel()))

  it.effect("fails with a required point's error", () =>
    Effect.gen(function*() {
      const kernel = yield* MemoryKernel
      kernel.fail({ call: "mount", errno: "EPERM" })
      const error = yield* syscallError(Mount.withMountPoints(Mount.essentialMountPoints()))
      assert.strictEqual(error.path, "/dev")
    }).pipe(withKernel()))
})
