import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Env from "../../src/Env.ts"
import * as Abi from "../../src/internal/abi.ts"
import { sysctlPath } from "../../src/internal/sysctl.ts"
import { MemoryKernel } from "../../src/Layer.ts"
import * as Mount from "../../src/Mount.ts"
import * as Network from "../../src/Network.ts"
import * as Symlink from "../../src/Symlink.ts"
import { syscallError, withKernel } from "./helpers.ts"

describe("Symlink", () => {
  it("devSymlinks are the well-known /dev links", () => {
    assert.deepStrictEqual(Symlink.devSymlinks(), {
      "/dev/core": "/proc/kcore",
      "/dev/fd": "/proc/self/fd/",
      "/dev/rtc": "rtc0",
      "/dev/stderr": "/proc/self/fd/2",
      "/dev/stdin": "/proc/self/fd/0",
      "/dev/stdout": "/proc/self/fd/1"
    })
  })

  it.effect.prop(
    "createSymlinks creates links in sorted order of path",
    [Schema.Array(Schema.String)],
    ([names]) =>
      Effect.gen(function*() {
        const links = Object.fromEntries(
          names.map((name, i) => [`/l/n${Buffer.from(name).toString("hex")}`, `/t/${i}`])
        )
        yield* Symlink.createSymlinks(links)
        const { calls, state } = yield* MemoryKernel
        const created = calls.filter((c) => c.call === "symlink").map((c) => c.path)
        assert.deepStrictEqual(created, Object.keys(links).toSorted())
        for (const [link, target] of Object.entries(links)) {
          assert.deepStrictEqual(state.tree.get(link), { type: "symlink", target })
        }
      }).pipe(withKernel({ directories: ["/l"] }))
  )

  it.effect("a link over an existing path fails with EEXIST and stops the rest", () =>
    Effect.gen(function*() {
      yield* Mount.mount("/dev", { fsType: "devtmpfs" })
      yield* Symlink.createSymlinks({ "/dev/fd": "/proc/self/fd/" })
      const error = yield* syscallError(Symlink.createSymlinks(Symlink.devSymlinks()))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["symlink", "EEXIST", "/dev/fd"])
      const { state } = yield* MemoryKernel
      assert.isTrue(state.tree.has("/dev/core"))
      assert.isFalse(state.tree.has("/dev/rtc"))
    }).pipe(withKernel()))
})

describe("Network", () => {
  it.effect("setInterfaceUp sets IFF_UP and keeps the other flags", () =>
    Effect.gen(function*() {
      yield* Network.setInterfaceUp("lo")
      assert.strictEqual((yield* MemoryKernel).state.interfaces.get("lo"), Abi.IFF_LOOPBACK | Abi.IFF_UP)
      assert.isTrue(yield* Network.isInterfaceUp("lo"))
    }).pipe(withKernel({ interfaces: { lo: Abi.IFF_LOOPBACK } })))

  it.effect("an unknown interface is ENODEV", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Network.setInterfaceUp("eth7"))
      assert.deepStrictEqual([error.syscall, error.errno, error.path], ["ioctl", "ENODEV", "eth7"])
    }).pipe(withKernel()))
})

describe("Network.setHostname", () => {
  it.effect("names the machine: kernel.hostname, as /proc/sys/kernel/hostname reads it", () =>
    Effect.gen(function*() {
      yield* Mount.mount("/proc", { fsType: "proc" })
      assert.strictEqual(yield* Env.readSysctl("kernel.hostname"), "(none)")
      yield* Network.setHostname("vm-1")
      const { calls, state } = yield* MemoryKernel
      assert.strictEqual(state.sysctls.get("kernel.hostname"), "vm-1")
      assert.strictEqual(yield* Env.readSysctl("kernel.hostname"), "vm-1")
      assert.deepStrictEqual(calls.filter((c) => c.call === "sethostname").map((c) => c.path), ["vm-1"])
    }).pipe(withKernel()))

  it.effect.each([
    { case: "64 ASCII bytes", name: "h".repeat(64), taken: true },
    { case: "65 ASCII bytes", name: "h".repeat(65), taken: false },
    { case: "32 two-byte characters (64 bytes)", name: "é".repeat(32), taken: true },
    { case: "33 two-byte characters (66 bytes, but 33 characters)", name: "é".repeat(33), taken: false }
  ])(
    "a name of $case: taken only up to 64 bytes, else EINVAL and the name stays",
    ({ name, taken }) =>
      Effect.gen(function*() {
        const { state } = yield* MemoryKernel
        if (taken) {
          yield* Network.setHostname(name)
          assert.strictEqual(state.sysctls.get("kernel.hostname"), name)
          return
        }
        const error = yield* syscallError(Network.setHostname(name))
        assert.deepStrictEqual([error.syscall, error.errno, error.path], ["sethostname", "EINVAL", name])
        assert.strictEqual(state.sysctls.get("kernel.hostname"), "(none)")
      }).pipe(withKernel())
  )
})

describe("Env", () => {
  it.effect("setEnv sets each variable", () =>
    Effect.gen(function*() {
      yield* Env.setEnv({ PATH: "/data", LANG: "C.UTF-8" })
      const { calls, state } = yield* MemoryKernel
      assert.deepStrictEqual(Object.fromEntries(state.env), { LANG: "C.UTF-8", PATH: "/data" })
      assert.deepStrictEqual(calls.map((c) => [c.call, c.path]), [["setEnv", "LANG"], ["setEnv", "PATH"]])
    }).pipe(withKernel()))

  it.effect("setEnv fails with EINVAL on a name holding '='", () =>
    Effect.gen(function*() {
      const error = yield* syscallError(Env.setEnv({ "A=B": "x" }))
      assert.deepStrictEqual([error.errno, error.path], ["EINVAL", "A=B"])
    }).pipe(withKernel()))

  it.effect.each(["net.ipv4.ip_forward", "net/ipv4/ip_forward", "/net/ipv4/ip_forward"])(
    "sysctl accepts the key %s",
    (key) =>
      Effect.gen(function*() {
        yield* Mount.mount("/proc", { fsType: "proc" })
        yield* Env.sysctl(key, "1")
        assert.strictEqual((yield* MemoryKernel).state.sysctls.get("net.ipv4.ip_forward"), "1")
        assert.strictEqual(yield* Env.readSysctl(key), "1")
      }).pipe(withKernel())
  )

  it("sysctlPath keeps dots in a key given as a path, as sysctl(8) does", () => {
    assert.strictEqual(sysctlPath("net/ipv4/conf/eth0.1/forwarding"), "/proc/sys/net/ipv4/conf/eth0.1/forwarding")
    assert.strictEqual(sysctlPath("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward")
  })

  it.effect("an unknown sysctl is ENOENT", () =>
    Effect.gen(function*() {
      yield* Mount.mount("/proc", { fsType: "proc" })
      const error = yield* syscallError(Env.sysctl("net.nope", "1"))
      assert.deepStrictEqual([error.errno, error.path], ["ENOENT", "/proc/sys/net/nope"])
    }).pipe(withKernel()))

  it.effect.each(["", ".", "net..x", "../../etc/passwd", "net/../../x"])(
    "sysctl refuses the key %j",
    (key) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Env.sysctl(key, "1"))
        assert.strictEqual(error._tag, "InvalidSysctlKey")
        assert.deepStrictEqual((yield* MemoryKernel).calls, [])
      }).pipe(withKernel())
  )
})
