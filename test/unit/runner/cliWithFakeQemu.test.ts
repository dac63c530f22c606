/**
 * `effect-sysinit vm` end to end with a fake QEMU (fakeQemu.ts) as the only
 * qemu-system-x86_64 on PATH: the exit code, stdout and stderr for each path
 * through the command (the guest's code, a guest error, a throw before
 * Sysinit.run, the timeout, a failure of QEMU or of the runner),
 * `--timings`, the colours the guest is told to use, and no temporary file
 * left behind. The kernel is any file, since nothing boots; the runs build
 * a real initramfs (node and its libraries), once for the file.
 *
 * The command runs in this process (cliInProcess.ts: `main.run` on an
 * argument list, the exit code it set), so that the unit tier's coverage
 * measures it; one run goes through `bin/effect-sysinit` as a user runs
 * it, for the process's own exit status. Which line of which console means
 * what is qemu.test.ts's, which exit code and message each outcome gives is
 * verdictAndFlags.test.ts's.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cacheSharingImages, fakeKernel, runCli, timingPhases } from "./cliInProcess.ts"
import * as FakeQemu from "./fakeQemu.ts"

const cli = path.join(import.meta.dirname, "../../../bin/effect-sysinit")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-cli-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

// Nothing boots: the init is never run, and the kernel only has to look like one.
const init = path.join(work, "init.js")
fs.writeFileSync(init, "console.log(\"never runs\")\n")
const kernel = fakeKernel(work)
const sharedCache = path.join(work, "cache")

interface VmRun {
  readonly status: number
  readonly stdout: string
  /** The runner's stderr, without the two lines of the image's build. */
  readonly stderr: string
  readonly imageLines: ReadonlyArray<string>
  /** What the runner's temporary directory (TMPDIR) still holds after the run. */
  readonly leftInTmp: ReadonlyArray<string>
  readonly fake: FakeQemu.FakeQemu
}

let runs = 0

const isImageLine = (line: string) => /^effect-sysinit: image: (?:building |\S+ [kM]B built in )/.test(line)

/** Where a run of `vm` puts its fake QEMU, TMPDIR and cache, and the environment that points at them. */
const runDirectory = (scenario: Omit<FakeQemu.Scenario, "record"> | "no QEMU", cache: "new" | "shared") => {
  const dir = path.join(work, `run${++runs}`)
  const tmp = path.join(dir, "tmp")
  fs.mkdirSync(tmp, { recursive: true })
  const fake = FakeQemu.make(dir, scenario === "no QEMU" ? {} : scenario)
  const env = {
    // Without QEMU, PATH holds nothing at all: the runner needs no other program from it.
    PATH: scenario === "no QEMU" ? tmp : dir,
    TMPDIR: tmp,
    SYSINIT_CACHE_DIR: cache === "new" ? path.join(dir, "cache") : cacheSharingImages(sharedCache, dir),
    FORCE_COLOR: undefined,
    NO_COLOR: undefined,
    NODE_DISABLE_COLORS: undefined
  }
  return { tmp, fake, env }
}

/** Runs `effect-sysinit vm --no-kvm --kernel K [flags] init [args]` in this process with a fake QEMU playing `scenario`. */
const runVm = async (
  scenario: Omit<FakeQemu.Scenario, "record"> | "no QEMU",
  flags: ReadonlyArray<string> = [],
  options: {
    readonly cache?: "new" | "shared"
    readonly env?: Readonly<Record<string, string | undefined>>
    readonly stdoutIsTerminal?: boolean
    /** After the init: its arguments. */
    readonly args?: ReadonlyArray<string>
    readonly init?: string
  } = {}
): Promise<VmRun> => {
  const { env, fake, tmp } = runDirectory(scenario, options.cache ?? "shared")
  const run = await runCli([
    "vm",
    "--no-kvm",
    "--kernel",
    kernel,
    ...flags,
    options.init ?? init,
    ...(options.args ?? [])
  ], {
    env: { ...env, ...options.env },
    stdoutIsTerminal: options.stdoutIsTerminal
  })
  const lines = run.stderr.split(/(?<=\n)/)
  return {
    status: run.status,
    stdout: run.stdout,
    stderr: lines.filter((line) => !isImageLine(line)).join(""),
    imageLines: lines.filter(isImageLine).map((line) => line.trimEnd()),
    leftInTmp: fs.readdirSync(tmp),
    fake
  }
}

/** The kernel command line the fake QEMU was given. */
const kernelCommandLine = (fake: FakeQemu.FakeQemu): string => {
  const args = fake.recorded().args
  return args[args.indexOf("-append") + 1]!
}

const panicLine = "[    4.668231] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"

describe("effect-sysinit vm with a fake QEMU", () => {
  it("exits with the guest's exit code, passes console 1 to stdout, and an exit line there fakes nothing", async () => {
    const run = await runVm(
      {
        consoles: ["[    0.5] booting\nVIRTRUN_EXIT_CODE: 7\n", "hello from the guest\nVIRTRUN_EXIT_CODE: 0\n"],
        stdout: "VIRTRUN_EXIT_CODE: 0\n"
      },
      [],
      { cache: "new" }
    )
    assert.strictEqual(run.status, 7, run.stderr)
    assert.strictEqual(run.stdout, "hello from the guest\nVIRTRUN_EXIT_CODE: 0\n")
    assert.strictEqual(run.stderr, "", "console 0 stays hidden without --verbose")
    assert.lengthOf(run.imageLines, 2, "a new cache: the image is built, and the runner says so")
    assert.match(run.imageLines[0]!, /^effect-sysinit: image: building the guest's initramfs/)
    assert.match(run.imageLines[1]!, /^effect-sysinit: image: \d+\.\d MB built in \d+\.\d s$/)
    assert.deepStrictEqual(run.leftInTmp, [], "no temporary file is left")
  }, 120_000)

  // The other guest errors (OOM, no exit line) take the same path: their codes and lines are verdict.exitOf's (verdictAndFlags.test.ts).
  it(
    "exits with 122 after a kernel panic and says why; with --verbose, the accelerator and console 0 come first on stderr",
    async () => {
      const run = await runVm({ consoles: [`[    0.5] booting\n${panicLine}\n`] }, ["--verbose"])
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
    },
    120_000
  )

  it("exits with 121 when the init set no exit code, and says why without --verbose, naming the fix", async () => {
    const said =
      "sysinit 2026/12/04 03:00:00.000000 ERROR the run ended without an exit code: no step called Sysinit.setExitCode; " +
      "end the steps with Sysinit.setExitCode(0)"
    const run = await runVm({ consoles: [`[    0.5] booting\n${said}\n`] })
    assert.strictEqual(run.status, 121, run.stderr)
    assert.strictEqual(
      run.stderr,
      "effect-sysinit: guest: the run ended without an exit code: no step called Sysinit.setExitCode; " +
        "end the steps with Sysinit.setExitCode(0)\neffect-sysinit: guest error: no exit code found\n"
    )
  }, 120_000)

  it(
    "exits with 121 when the init threw before Sysinit.run, showing its stack without the runner's own frames",
    async () => {
      const thrown = "Error: no init here, the answer is 42"
      const run = await runVm(
        {
          consoles: [
            `sysinit 2026/12/04 03:00:00.000000 FATAL the init threw before Sysinit.run: ${thrown}\n` +
            "    at <effect-sysinit entry>:19:31\n    at node:internal/modules/esm/module_job:1:2\n"
          ]
        },
        [],
        { init: path.join(import.meta.dirname, "fixtures/throwsAtTop.ts") }
      )
      assert.strictEqual(run.status, 121, run.stderr)
      assert.strictEqual(
        run.stderr.replace(/^effect-sysinit: start-up: .*\n/m, ""),
        `effect-sysinit: the init threw before Sysinit.run: ${thrown}\n    at node:internal/modules/esm/module_job:1:2\n`
      )
    },
    120_000
  )

  it("exits with the guest's code modulo 256, never 0 for a code that is not, and says so", async () => {
    const run = await runVm({ consoles: ["VIRTRUN_EXIT_CODE: 512\n"] })
    assert.strictEqual(run.status, 255, run.stderr)
    assert.strictEqual(
      run.stderr,
      "effect-sysinit: guest exit code 512, exit status 255 (the code is 0 modulo 256; a non-zero code never exits 0)\n"
    )
  }, 120_000)

  it("exits with 124 at --timeout, says so, and QEMU is gone", async () => {
    const run = await runVm({ consoles: ["[    0.5] booting\n"], hang: true }, ["--timeout", "1"])
    assert.strictEqual(run.status, 124, run.stderr)
    assert.strictEqual(run.stderr, "effect-sysinit: guest timed out after 1s, QEMU killed\n")
    assert.isFalse(FakeQemu.isAlive(run.fake.recorded().pid), "QEMU's process is gone")
    assert.deepStrictEqual(run.leftInTmp, [])
  }, 120_000)

  it("exits with 125 and names the package to install when QEMU is missing", async () => {
    const run = await runVm("no QEMU")
    assert.strictEqual(run.status, 125, run.stderr)
    assert.strictEqual(
      run.stderr,
      "effect-sysinit: qemu-system-x86_64 not found: install the Debian/Ubuntu package qemu-system-x86 (apt-get install -y qemu-system-x86)\n"
    )
    assert.isFalse(run.fake.ran())
    assert.deepStrictEqual(run.leftInTmp, [])
  }, 120_000)

  it("exits with 125 when QEMU fails before the guest said anything, with QEMU's last line", async () => {
    const run = await runVm({ stderr: "qemu-system-x86_64: -m 1024: cannot set up guest memory\n", exitCode: 1 })
    assert.strictEqual(run.status, 125, run.stderr)
    assert.strictEqual(
      run.stderr,
      "effect-sysinit: QEMU exited with 1: qemu-system-x86_64: -m 1024: cannot set up guest memory\n"
    )
    assert.deepStrictEqual(run.leftInTmp, [])
  }, 120_000)

  it("says when QEMU was killed by a signal", async () => {
    const run = await runVm({ killedBy: "SIGKILL" })
    assert.strictEqual(run.status, 125, run.stderr)
    assert.strictEqual(run.stderr, "effect-sysinit: QEMU was killed by a signal\n")
  }, 120_000)

  it(
    "with --timings, says on stderr when the run reached each phase, in order, in ms from the command's start",
    async () => {
      const run = await runVm({ consoles: ["VIRTRUN_EXIT_CODE: 0\n"] }, ["--timings"])
      assert.strictEqual(run.status, 0, run.stderr)
      assert.deepStrictEqual(timingPhases(run.stderr), [
        "plan",
        "image",
        "qemu spawned",
        "qemu exited",
        "runner exit"
      ])
    },
    120_000
  )

  // Which variables each choice gives is output.colorEnvironment's (verdictAndFlags.test.ts); here, that the guest gets them.
  const colours: ReadonlyArray<
    readonly [string, boolean, Readonly<Record<string, string>>, ReadonlyArray<string>]
  > = [
    ["no colour when stdout is a pipe", false, {}, ["NO_COLOR=1"]],
    ["colour when stdout is a terminal", true, {}, []],
    ["the host's NO_COLOR, on a terminal too", true, { NO_COLOR: "1" }, ["NO_COLOR=1"]],
    ["the host's FORCE_COLOR, through a pipe too", false, { FORCE_COLOR: "2" }, ["FORCE_COLOR=2"]]
  ]
  for (const [name, terminal, env, variables] of colours) {
    it(`tells the guest's node to colour its output as the runner's stdout would: ${name}`, async () => {
      const run = await runVm({ consoles: ["VIRTRUN_EXIT_CODE: 0\n"] }, [], { stdoutIsTerminal: terminal, env })
      assert.strictEqual(run.status, 0, run.stderr)
      assert.deepStrictEqual(kernelCommandLine(run.fake).match(/\b(?:NO_COLOR|FORCE_COLOR)=\S*/g) ?? [], variables)
    }, 120_000)
  }

  it("writes console 2 to the --output file and passes the init's arguments after --", async () => {
    const output = path.join(work, "vm-output")
    const run = await runVm({ consoles: ["VIRTRUN_EXIT_CODE: 0\n", "", "to the file\n"] }, ["--output", output], {
      args: ["--", "first", "with space"]
    })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.strictEqual(fs.readFileSync(output, "utf8"), "to the file\n")
    assert.match(kernelCommandLine(run.fake), / -- first "with space"$/)
  }, 120_000)
})

describe("bin/effect-sysinit vm with a fake QEMU, as a user runs it", () => {
  it("the process exits with the guest's exit code, console 1 on its stdout", async () => {
    const { env, tmp } = runDirectory({ consoles: ["VIRTRUN_EXIT_CODE: 7\n", "hello from the guest\n"] }, "shared")
    const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = ChildProcess.execFile(
        process.execPath,
        [cli, "vm", "--no-kvm", "--kernel", kernel, init],
        {
          env: Object.fromEntries(
            Object.entries({ ...process.env, ...env }).filter(([, value]) => value !== undefined)
          ),
          encoding: "utf8",
          timeout: 60_000
        },
        (error, stdout, stderr) => {
          if (error !== null && typeof error.code !== "number") return reject(error)
          resolve({ status: child.exitCode, stdout, stderr })
        }
      )
    })
    assert.strictEqual(result.status, 7, result.stderr)
    assert.strictEqual(result.stdout, "hello from the guest\n")
    assert.deepStrictEqual(fs.readdirSync(tmp), [])
  }, 120_000)
})
