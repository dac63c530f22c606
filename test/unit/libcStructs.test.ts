import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cookedTermios, loadLibc } from "../../src/kernels/libc.ts"

describe("the structs passed to ioctl", () => {
  it.effect("struct ifreq is 40 bytes, as in linux/if.h on 64-bit", () =>
    Effect.gen(function*() {
      const libc = yield* loadLibc
      assert.strictEqual(libc.structs.ifreqSize, 40)
    }))

  it.effect("struct termios is the kernel's 36 bytes that TCGETS/TCSETS take, not glibc's 60", () =>
    Effect.gen(function*() {
      const libc = yield* loadLibc
      assert.strictEqual(libc.structs.termiosSize, 36)
    }))

  it.effect("struct winsize is four unsigned shorts, rows first, without pixels", () =>
    Effect.gen(function*() {
      const { structs } = yield* loadLibc
      assert.strictEqual(structs.winsizeSize, 8)
      assert.deepStrictEqual(Array.from(structs.winsize(0x0102, 0x0304)), [2, 1, 4, 3, 0, 0, 0, 0])
    }))

  it.effect("cooked mode's termios fills the kernel's struct, its c_cc as long as NCCS", () =>
    Effect.gen(function*() {
      const { structs } = yield* loadLibc
      const decoded = structs.decodeTermios(structs.termios({ ...cookedTermios, c_line: 0 }))
      assert.strictEqual(cookedTermios.c_cc.length, 19)
      assert.deepStrictEqual({ ...decoded, c_cc: Array.from(decoded.c_cc) }, {
        ...cookedTermios,
        c_line: 0,
        c_cc: Array.from(cookedTermios.c_cc)
      })
    }))

  it.effect("an interface name and its flags round-trip through struct ifreq", () =>
    Effect.gen(function*() {
      const { structs } = yield* loadLibc
      const ifreq = structs.ifreq("eth0", 0x1043)
      assert.strictEqual(Buffer.from(ifreq.subarray(0, 5)).toString("latin1"), "eth0\0")
      assert.strictEqual(structs.ifreqFlags(ifreq), 0x1043)
    }))

  it.effect("termios fields round-trip, c_cc included", () =>
    Effect.gen(function*() {
      const { structs } = yield* loadLibc
      const termios = {
        c_iflag: 1,
        c_oflag: 2,
        c_cflag: 0o4000,
        c_lflag: 4,
        c_line: 5,
        c_cc: new Uint8Array(19).fill(7)
      }
      const decoded = structs.decodeTermios(structs.termios(termios))
      assert.deepStrictEqual({ ...decoded, c_cc: Array.from(decoded.c_cc) }, {
        ...termios,
        c_cc: Array.from(termios.c_cc)
      })
    }))
})
