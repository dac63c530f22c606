/**
 * The entry guard (src/guest/entryGuard.ts) around a user's module, in this
 * process: what it reports on console 0 (fd 2, caught here), when it ends
 * the process, and what it leaves to the run. The VM tier sees the host
 * read these reports (test/vm/failures.test.ts).
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { vi } from "vitest"
import { run } from "../../src/guest/entryGuard.ts"
import { markRunEntered, parseLine, returnedWithoutRun, threwBeforeRun } from "../../src/protocol/initLog.ts"

const console0 = vi.hoisted(() => ({ lines: [] as Array<string>, broken: false }))

vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>()
  return {
    ...actual,
    writeSync: (fd: number, data: string, ...rest: Array<never>) => {
      if (fd !== 2) return actual.writeSync(fd, data, ...rest)
      if (console0.broken) throw Object.assign(new Error("EBADF: bad file descriptor, write"), { code: "EBADF" })
      console0.lines.push(data)
      return data.length
    }
  }
})

/** Runs the guard on `load`; its beforeExit listener, and the exit it asked for. */
const guard = async (load: () => Promise<unknown>) => {
  const before = new Set(process.listeners("beforeExit"))
  const exits: Array<unknown> = []
  vi.spyOn(process, "exit").mockImplementation(((code?: unknown) => void exits.push(code)) as typeof process.exit)
  const outcome = await run(load).then(() => "resolved", (error: unknown) => error)
  const listener = process.listeners("beforeExit").find((added) => !before.has(added)) as () => void
  process.off("beforeExit", listener)
  return { outcome, exits, loopEmpties: listener }
}

afterEach(() => {
  vi.restoreAllMocks()
  console0.lines = []
  console0.broken = false
})

const reports = () => console0.lines.map((line) => parseLine(line.trimEnd().split("\n")[0]!))

describe("the entry guard", () => {
  it("reports nothing for a module that runs Sysinit.run, and passes on what it returns", async () => {
    const { outcome, exits, loopEmpties } = await guard(async () => markRunEntered())
    loopEmpties()
    assert.strictEqual(outcome, "resolved")
    assert.deepStrictEqual([console0.lines, exits], [[], []])
  })

  it("reports a throw before Sysinit.run as an error line with the error inspected, once, and exits 1", async () => {
    const { exits, loopEmpties } = await guard(() => Promise.reject(new Error("thrown at the top level")))
    loopEmpties()
    assert.deepStrictEqual(exits, [1])
    assert.strictEqual(console0.lines.length, 1, "the empty loop that follows is not reported again")
    const [report] = reports()
    assert.strictEqual(report?.level, "ERROR")
    assert.strictEqual(report?.message, `${threwBeforeRun}: Error: thrown at the top level`)
    assert.include(console0.lines[0], "entryGuard.test.ts", "with its stack")
    assert.notInclude(console0.lines[0], "\u001b[", "without colours")
  })

  it("leaves a throw after Sysinit.run started to the run: passed on, not reported", async () => {
    const error = new Error("after the run started")
    const { outcome, exits } = await guard(async () => {
      markRunEntered()
      throw error
    })
    assert.strictEqual(outcome, error)
    assert.deepStrictEqual([console0.lines, exits], [[], []])
  })

  it("reports a module that returned without calling Sysinit.run when the event loop empties, once", async () => {
    const { outcome, exits, loopEmpties } = await guard(async () => {})
    assert.strictEqual(outcome, "resolved")
    assert.deepStrictEqual(console0.lines, [], "not before the loop empties: the module may still start the run")
    loopEmpties()
    loopEmpties()
    assert.deepStrictEqual(reports(), [{ level: "ERROR", message: returnedWithoutRun }])
    assert.deepStrictEqual(exits, [])
  })

  it("counts only a run of this boot: one entered while the snapshot was made does not", async () => {
    markRunEntered()
    const { loopEmpties } = await guard(async () => {})
    loopEmpties()
    assert.deepStrictEqual(reports(), [{ level: "ERROR", message: returnedWithoutRun }])
  })

  it("without console 0 has nothing to tell, and does not throw", async () => {
    console0.broken = true
    const { exits, loopEmpties } = await guard(() => Promise.reject(new Error("unseen")))
    loopEmpties()
    assert.deepStrictEqual(exits, [1])
  })
})
