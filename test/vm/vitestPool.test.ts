// The vitest pool (src/vitest.ts) on the fixture project of
// test/fixtures/vitest-pool: its files need a kernel of their own, so they
// pass in the pool's VMs and fail in vitest's own forks pool on this host.
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { bootTimeout, hasQemu } from "./harness.ts"
import { fixture, type JsonReport, vitestBin } from "./vitestFixture.ts"

/** Runs vitest on the fixture with the JSON reporter; the report by file name, and vitest's stderr. */
const runFixture = async (
  env: Record<string, string>,
  filters: ReadonlyArray<string> = [],
  wrapper: ReadonlyArray<string> = []
) => {
  const directory = mkdtempSync(join(tmpdir(), "vitest-pool-report-"))
  const output = join(directory, "report.json")
  try {
    const vitestStderr = await new Promise<string>((resolve) =>
      execFile(
        wrapper[0] ?? process.execPath,
        [
          ...wrapper.slice(1),
          ...(wrapper.length > 0 ? [process.execPath] : []),
          vitestBin,
          "run",
          "--reporter=json",
          `--outputFile=${output}`,
          ...filters
        ],
        { cwd: fixture, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
        (_error, _stdout, stderr) => resolve(stderr)
      )
    )
    const report = JSON.parse(readFileSync(output, "utf8")) as JsonReport
    const byName = new Map(report.testResults.map((file) => [file.name.slice(fixture.length + 1), file]))
    // A file that never ran (its VM did not come up) is absent from the report: vitest's stderr says why.
    const file = (name: string) => {
      const result = byName.get(name)
      assert.isDefined(result, `${name} is not in the report; vitest's stderr:\n${vitestStderr}`)
      return result!
    }
    return { file, stderr: vitestStderr }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

const passing = ["kernel/mount.test.ts", "kernel/network.test.ts", "kernel/sysctl.test.ts"]

const statuses = (file: JsonReport["testResults"][number]) =>
  file.assertionResults.map((test) => `${test.title}: ${test.status}`)

describe.skipIf(!hasQemu)("vmPool", () => {
  it(
    "runs the fixture's files in VMs: the kernel's tests pass, a failing one fails with its assertion, a VM that dies or hangs fails its file",
    async () => {
      const { file, stderr } = await runFixture({})
      assert.deepStrictEqual(statuses(file("kernel/mount.test.ts")), ["mounts a tmpfs and writes into it: passed"])
      assert.deepStrictEqual(statuses(file("kernel/network.test.ts")), [
        "has dummy.ko loaded by the pool's modules option: passed",
        "creates a dummy interface and brings it up: passed",
        "creates a network namespace: passed"
      ])
      assert.deepStrictEqual(statuses(file("kernel/sysctl.test.ts")), ["writes a sysctl: passed"])
      const fails = file("kernel/fails.test.ts")
      assert.deepStrictEqual(statuses(fails), ["fails on purpose: failed"])
      assert.include(fails.assertionResults[0]!.failureMessages[0], "expected 'yes' to be 'on purpose'")
      // vitest marks the file of a worker that exits failed, its test unfinished; the JSON report has no message
      // for it (vitest's "Worker exited unexpectedly" is an unhandled error), the runner's stderr says why.
      const dies = file("faults/dies.test.ts")
      assert.strictEqual(dies.status, "failed")
      assert.deepStrictEqual(statuses(dies), ["ends its VM: pending"])
      assert.match(stderr, /guest: run failed: \S+ was killed by SIGKILL/)
      const hang = file("faults/hang.test.ts")
      assert.strictEqual(hang.status, "failed")
      assert.deepStrictEqual(statuses(hang), ["never ends: pending"])
      assert.match(
        stderr,
        /effect-sysinit\/vitest: \S+faults\/hang\.test\.ts ran past the pool's timeout of 20000 ms; its VM was stopped/
      )
    },
    bootTimeout
  )

  // As root of a user namespace of its own (unshare, as the namespace tier): no privilege over this host's
  // mounts, network or sysctls, whoever runs the tests (CI's user, or root of a sandbox), and nothing changes here.
  it("runs the same files in vitest's forks pool on this host, where they fail for lack of privileges", async () => {
    const { file } = await runFixture({ FIXTURE_POOL: "forks" }, passing, ["unshare", "--user", "--map-root-user"])
    for (const name of passing) {
      assert.strictEqual(file(name).status, "failed", name)
    }
    assert.match(file("kernel/mount.test.ts").assertionResults[0]!.failureMessages[0]!, /EPERM/)
    assert.match(file("kernel/sysctl.test.ts").assertionResults[0]!.failureMessages[0]!, /EACCES|EROFS|EPERM/)
  }, bootTimeout)
})
