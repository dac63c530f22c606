/**
 * `effect-sysinit vm` end to end, as a user runs it, with a fake QEMU
 * (fakeQemu.ts) as the only qemu-system-x86_64 on PATH: the process's exit
 * code, stdout and stderr for each path through the command (the guest's
 * code, a guest error, the timeout, a failure of the runner), and no
 * temporary file left behind. Each run bundles a tiny init and builds a real
 * initramfs (node and its libraries: one to two seconds), so the runs are
 * few; which line of which console means what is qemu.test.ts's, which exit
 * code and message each outcome gives is verdictAndFlags.test.ts's. The kernel is any
 * file, since nothing boots.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FakeQemu from "./fakeQemu.ts"

const cli = path.join(import.meta.dirname, "../../../bin/effect-sysinit")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-cli-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

// Nothing boots: the init is never run, and the kernel only has to look like one ("HdrS" at 0x202).
const init = path.join(work, "init.js")
fs.writeFileSync(init, "console.log(\"never runs\")\n")
const kernel = path.join(work, "vmlinuz")
const kernelBytes = Buffer.alloc(0x400)
kernelBytes.write("HdrS", 0x202)
fs.writeFileSync(kernel, kernelBytes)

interface CliRun {
  readonly status: number | null
  readonly stdout: string
  /** The runner's stderr, without the two lines of the image's build (each run has a new cache). */
  readonly stderr: string
  readonly imageLines: ReadonlyArray<string>
  /** What the runner's temporary directory (TMPDIR) still holds after the run. */
  readonly leftInTmp: ReadonlyArray<string>
  readonly fake: FakeQemu.FakeQemu
}

let runs = 0

/** Runs `effect-sysinit vm [flags] init` with a fake QEMU playing `scenario` as the only qemu-system-x86_64. */
const runCli = (
  scenario: Omit<FakeQemu.Scenario, "record"> | "no QEMU",
  flags: ReadonlyArray<string> = []
): Promise<CliRun> => {
  const dir = path.join(work, `run${++runs}`)
  const tmp = path.join(dir, "tmp")
  fs.mkdirSync(tmp, { recursive: true })
  const fake = FakeQemu.make(dir, scenario === "no QEMU" ? {} : scenario)
  // Without QEMU, PATH holds nothing at all: the runner needs no other program from it.
  const bin = scenario === "no QEMU" ? tmp : dir
  return new Promise((resolve, reject) => {
    const child = ChildProcess.execFile(
      process.execPath,
      [cli, "vm", "--no-kvm", "--kernel", kernel, ...flags, init],
      {
        env: { ...process.env, PATH: bin, TMPDIR: tmp, SYSINIT_CACHE_DIR: path.join(dir, "cache") },
        encoding: "utf8",
        timeout: 60_000
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") return reject(error)
        const isImageLine = (line: string) => /^effect-sysinit: image: (?:building |\S+ [kM]B built in )/.test(line)
        const lines = stderr.split(/(?<=\n)/)
        resolve({
          status: child.exitCode,
          stdout,
          stderr: lines.filter((line) => !isImageLine(line)).join(""),
          imageLines: lines.filter(isImageLine).map((line) => line.trimEnd()),
          leftInTmp: fs.readdirSync(tmp),
          fake
        })
      }
    )
  })
}

const panicLine = "[    4.668231] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"

describe.concurrent("effect-sysinit vm with a fake QEMU", () => {
  it("exits with the guest's exit code, passes console 1 to stdout, and an exit line there fakes nothing", async () => {
    const run = await runCli({
      consoles: ["[    0.5] booting\nVIRTRUN_EXIT_CODE: 7\n", "hello from the guest\nVIRTRUN_EXIT_CODE: 0\n"],
      stdout: "VIRTRUN_EXIT_CODE: 0\n"
    })
    assert.strictEqual(run.status, 7, run.stderr)
    assert.strictEqual(run.stdout, "hello from the guest\nVIRTRUN_EXIT_CODE: 0\n")
    assert.strictEqual(run.stderr, "", "console 0 stays hidden without --verbose")
    assert.lengthOf(run.imageLines, 2, "a new cache: the image is built, and the runner says so")
    assert.match(run.imageLines[0]!, /^effect-sysinit: image: building the guest's initramfs/)
    assert.match(run.imageLines[1]!, /^effect-sysinit: image: \d+\.\d MB built in \d+\.\d s$/)
    assert.deepStrictEqual(run.leftInTmp, [], "no temporary file is left")
  })

  // The other guest errors (OOM, no exit line) take the same path: their codes and lines are verdict.exitOf's (verdictAndFlags.test.ts).
  it("exits with 122 after a kernel panic and says why; with --verbose, the accelerator and console 0 come first on stderr", async () => {
    const run = await runCli({ consoles: [`[    0.5] booting\n${panicLine}\n`] }, ["--verbose"])
    assert.strictEqual(run.status, 122, run.stderr)
    assert.match(
      run.stderr,
      /^(?:effect-sysinit: start-up: .*\n)?effect-sysinit: image: (?:built|from the cache), \S+\.cpio\n/
    )
    assert.strictEqual(
      run.stderr.replace(/^(?:effect-sysinit: start-up: .*\n)?effect-sysinit: image: .*\n/, ""),
      "effect-sysinit: KVM: not used, as --no-kvm asks; TCG emulates the guest\n" +
        `[    0.5] booting\n${panicLine}\neffect-sysinit: guest error: kernel panic: ` +
        "Attempted to kill init! exitcode=0x00000000 (the init exited with status 0)\n"
    )
    assert.deepStrictEqual(run.leftInTmp, [])
  })

  it("exits with 121 when the init set no exit code, and says why without --verbose, naming the fix", async () => {
    const said =
      "sysinit 2026/12/04 03:00:00.000000 ERROR the run ended without an exit code: no step called Sysinit.setExitCode; " +
      "end the steps with Sysinit.setExitCode(0)"
    const run = await runCli({ consoles: [`[    0.5] booting\n${said}\n`] })
    assert.strictEqual(run.status, 121, run.stderr)
    assert.strictEqual(
      run.stderr,
      "effect-sysinit: guest: the run ended without an exit code: no step called Sysinit.setExitCode; " +
        "end the steps with Sysinit.setExitCode(0)\neffect-sysinit: guest error: no exit code found\n"
    )
  })

  it("exits with 124 at --timeout, says so, and QEMU is gone", async () => {
    const run = await runCli({ consoles: ["[    0.5] booting\n"], hang: true }, ["--timeout", "1"])
    assert.strictEqual(run.status, 124, run.stderr)
    assert.strictEqual(run.stderr, "effect-sysinit: guest timed out after 1s, QEMU killed\n")
    assert.isFalse(FakeQemu.isAlive(run.fake.recorded().pid), "QEMU's process is gone")
    assert.deepStrictEqual(run.leftInTmp, [])
  })

  it("exits with 125 and names the package to install when QEMU is missing", async () => {
    const run = await runCli("no QEMU")
    assert.strictEqual(run.status, 125, run.stderr)
    assert.strictEqual(
      run.stderr,
      "effect-sysinit: qemu-system-x86_64 not found: install the Debian/Ubuntu package qemu-system-x86 (apt-get install -y qemu-system-x86)\n"
    )
    assert.isFalse(run.fake.ran())
    assert.deepStrictEqual(run.leftInTmp, [])
  })
})
