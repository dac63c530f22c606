/**
 * `effect-sysinit exec` and its saved machines, with a fake QEMU
 * (fakeQemu.ts) that plays exec's built-in init at its ready point and
 * speaks QMP: the first run boots the machine to its ready point, saves it
 * and restores it; later runs restore it; `--cold` saves nothing; a saved
 * machine that does not restore (a state QEMU cannot load, a guest that is
 * not running after the load, one that never takes its run, also one just
 * saved) is removed and the run boots cold, saying why under --verbose; a
 * QEMU that fails once the guest took its run fails the run, not the
 * machine; a save that fails, or a boot that never reaches its ready point,
 * keeps nothing; the run message is sent again until the guest takes it;
 * two first runs at once keep one machine. Also `--timings` of a restored
 * run, the program's stdout and stderr apart, the colours and clock the run
 * message carries, and a run's files over 64 KiB on a share of its own.
 *
 * All of it runs in this process (cliInProcess.ts), so that the unit tier's
 * coverage measures the runner's code; the kernel is any file and its
 * module tree says 9p and the virtio consoles are built in. That a
 * restored machine is a fresh one (its randomness, its clock, its /tmp) is
 * the VM tier's (test/vm/restore.test.ts), where a guest really restores.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ExecPlan from "../../../src/runner/exec/ExecPlan.ts"
import * as GuestFiles from "../../../src/runner/exec/guestFiles.ts"
import * as Qemu from "../../../src/runner/machine/Qemu.ts"
import { guestModule } from "../../../src/runner/packageFiles.ts"
import * as Runner from "../../../src/runner/Runner.ts"
import { builtinModuleTree, cacheSharingImages, fakeKernel, runCli, timingPhases } from "./cliInProcess.ts"
import * as FakeQemu from "./fakeQemu.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-exec-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const kernel = fakeKernel(work)
const modules = builtinModuleTree(work)
const sharedCache = path.join(work, "cache")

let machines = 0

/** A fake QEMU playing `scenario`, a cache of its own for its saved machines, and the environment of its runs. */
const machine = (scenario: Omit<FakeQemu.Scenario, "record">) => {
  const dir = path.join(work, `machine${++machines}`)
  const tmp = path.join(dir, "tmp")
  fs.mkdirSync(tmp, { recursive: true })
  const fake = FakeQemu.make(dir, scenario)
  const cache = cacheSharingImages(sharedCache, dir)
  const env = {
    PATH: `${dir}:/usr/bin:/bin`,
    TMPDIR: tmp,
    SYSINIT_CACHE_DIR: cache,
    EFFECT_SYSINIT_ARGS: undefined,
    FORCE_COLOR: undefined,
    NO_COLOR: undefined,
    NODE_DISABLE_COLORS: undefined
  }
  /** The saved machines of the cache: their directories' names. */
  const saved = (): ReadonlyArray<string> =>
    fs.existsSync(path.join(cache, "machines")) ? fs.readdirSync(path.join(cache, "machines")) : []
  /** Runs `effect-sysinit exec --no-kvm --kernel K --kernel-modules M [flags] program…` in this process. */
  const exec = (flags: ReadonlyArray<string>, options: { readonly stdoutIsTerminal?: boolean } = {}) =>
    runCli(["exec", "--no-kvm", "--kernel", kernel, "--kernel-modules", modules, ...flags], {
      env,
      stdoutIsTerminal: options.stdoutIsTerminal
    })
  return { dir, tmp, fake, cache, env, saved, exec }
}

const starts = (fake: FakeQemu.FakeQemu) =>
  fake.events().flatMap((event) => event.event === "start" ? [`${event.mode}${event.qmp ? " with QMP" : ""}`] : [])

const runsTaken = (fake: FakeQemu.FakeQemu) =>
  fake.events().flatMap((event) => event.event === "run" && !event.ignored ? [event.message] : [])

/** The key of the saved machine a run under --verbose named. */
const keyIn = (stderr: string): string => {
  const key = /saved machine ([0-9a-f]{32})/.exec(stderr)?.[1]
  assert.isDefined(key, stderr)
  return key!
}

const exitLine = (code: number) => `VIRTRUN_EXIT_CODE: ${code}\n`

describe("exec from a saved machine, with a fake QEMU", () => {
  it("saves the machine at the first run and restores it at the next; each run gets its own message", async () => {
    const m = machine({ consoles: [exitLine(3), "to stdout\n", "to stderr\n"] })
    const before = Date.now()
    const first = await m.exec(["--verbose", "/bin/true"])
    assert.strictEqual(first.status, 3, first.stderr)
    assert.strictEqual(first.stdout, "to stdout\n")
    assert.include(first.stderr, "to stderr\n")
    const key = keyIn(first.stderr)
    assert.include(first.stderr, `no saved machine ${key}: booting it to its ready point to save it`)
    assert.match(first.stderr, new RegExp(`saved the machine at its ready point in \\d+ ms \\(${key}\\)`))
    assert.include(first.stderr, `restored the saved machine ${key}`)
    assert.deepStrictEqual(starts(m.fake), ["boot with QMP", "restore with QMP"])

    const second = await m.exec(["--verbose", "/bin/true"])
    const after = Date.now()
    assert.strictEqual(second.status, 3, second.stderr)
    assert.include(second.stderr, `restored the saved machine ${key}`)
    assert.notInclude(second.stderr, "saved the machine at its ready point")
    assert.deepStrictEqual(starts(m.fake), ["boot with QMP", "restore with QMP", "restore with QMP"])

    assert.deepStrictEqual(m.saved(), [key], "one saved machine, under its key")
    const entry = path.join(m.cache, "machines", key)
    assert.strictEqual(fs.statSync(path.join(entry, "ram")).size, 1024 * 2 ** 20, "the guest's RAM, of --memory")
    assert.isTrue(fs.readFileSync(path.join(entry, "state"), "utf8").startsWith(FakeQemu.stateMagic))
    const [a, b] = runsTaken(m.fake)
    assert.notStrictEqual(a!.nonce, b!.nonce)
    assert.notStrictEqual(a!.entropy, b!.entropy, "each run brings randomness of its own")
    for (const message of [a!, b!]) {
      assert.isAtLeast(message.time, before, "the host's clock when the run was sent")
      assert.isAtMost(message.time, after)
    }
    assert.deepStrictEqual(m.saved(), [key])
    assert.deepStrictEqual(fs.readdirSync(m.tmp), [], "no temporary file is left")
  }, 120_000)

  it("with --cold boots the machine and saves nothing", async () => {
    const m = machine({ consoles: [exitLine(0)] })
    const run = await m.exec(["--cold", "/bin/true"])
    assert.strictEqual(run.status, 0, run.stderr)
    assert.deepStrictEqual(starts(m.fake), ["boot"])
    assert.lengthOf(runsTaken(m.fake), 1)
    assert.deepStrictEqual(m.saved(), [])
  }, 120_000)

  it("says nothing of the saved machine without --verbose but the first run's stage lines", async () => {
    const m = machine({ consoles: [exitLine(0)] })
    const first = await m.exec(["/bin/true"])
    assert.strictEqual(first.status, 0, first.stderr)
    assert.deepStrictEqual(first.stderr.split("\n").filter((line) => line !== "" && !/: image: /.test(line)), [
      "effect-sysinit: machine: booting it to its ready point and saving it there, once (later runs restore it)",
      first.stderr.match(/effect-sysinit: machine: booted and saved in \d+\.\d s/)?.[0]
    ])
    const second = await m.exec(["/bin/true"])
    assert.strictEqual(second.stderr, "")
  }, 120_000)

  const unrestorable: ReadonlyArray<
    readonly [string, Omit<FakeQemu.Scenario, "record">, (entry: string) => void, (key: string) => RegExp]
  > = [
    [
      "a state QEMU cannot load",
      {},
      (entry) => {
        // A state the cache takes for the one saved (its hash is recorded anew), which QEMU cannot load.
        fs.writeFileSync(path.join(entry, "state"), "not a state")
        const record = JSON.parse(fs.readFileSync(path.join(entry, "entry.json"), "utf8")) as Record<string, unknown>
        const sha256 = createHash("sha256").update("not a state").digest("hex")
        fs.writeFileSync(path.join(entry, "entry.json"), JSON.stringify({ ...record, stateSha256: sha256 }))
      },
      // QEMU exits as it says so: whether the runner hears of it from QMP or from QEMU's end is a race.
      (key) => new RegExp(`the saved machine ${key} did not restore \\(QEMU's monitor: .+\\); booting cold\n`)
    ],
    [
      "a guest that is not running after the load",
      { loadedStatus: "internal-error" },
      () => undefined,
      (key) =>
        new RegExp(
          `the saved machine ${key} did not restore \\(QEMU's monitor: migrate-incoming: the guest is ` +
            "internal-error after the load\\); booting cold\n"
        )
    ],
    [
      "a guest that never takes its run",
      { restoredTakesNoRun: true },
      () => undefined,
      (key) => new RegExp(`the saved machine ${key} did not take its run\n`)
    ]
  ]
  for (const [name, scenario, spoil, says] of unrestorable) {
    it(`a saved machine that does not restore is removed, and the run boots cold and says why: ${name}`, async () => {
      const m = machine({ consoles: [exitLine(0)] })
      const first = await m.exec(["--verbose", "/bin/true"])
      assert.strictEqual(first.status, 0, first.stderr)
      const key = keyIn(first.stderr)
      spoil(path.join(m.cache, "machines", key))
      m.fake.play({ ...scenario, consoles: [exitLine(7), "the cold run's\n"] })
      const run = await m.exec(["--verbose", "/bin/true"])
      assert.strictEqual(run.status, 7, run.stderr)
      assert.strictEqual(run.stdout, "the cold run's\n")
      assert.match(run.stderr, says(key))
      assert.deepStrictEqual(starts(m.fake).slice(2), ["restore with QMP", "boot"], "a restore, then a cold boot")
      assert.deepStrictEqual(m.saved().filter((entry) => !entry.includes(".trash-")), [], "the machine is gone")
    }, 120_000)
  }

  it("a machine saved by this very run that does not restore is removed, and the run boots cold", async () => {
    const m = machine({ restoredTakesNoRun: true, consoles: [exitLine(4)] })
    const run = await m.exec(["--verbose", "/bin/true"])
    assert.strictEqual(run.status, 4, run.stderr)
    assert.match(run.stderr, /the saved machine [0-9a-f]{32} did not take its run\n/)
    assert.deepStrictEqual(starts(m.fake), ["boot with QMP", "restore with QMP", "boot"])
    assert.deepStrictEqual(m.saved().filter((entry) => !entry.includes(".trash-")), [])
  }, 120_000)

  it("a QEMU that fails after the restored guest took its run fails the run, and the machine is kept", async () => {
    const m = machine({ consoles: [exitLine(0)] })
    const first = await m.exec(["/bin/true"])
    assert.strictEqual(first.status, 0, first.stderr)
    m.fake.play({
      consoles: ["the program runs\n"],
      stderr: "qemu-system-x86_64: virtio: bogus descriptor\n",
      exitCode: 1
    })
    const run = await m.exec(["/bin/true"])
    assert.strictEqual(run.status, 125, run.stderr)
    assert.strictEqual(run.stderr, "effect-sysinit: QEMU exited with 1: qemu-system-x86_64: virtio: bogus descriptor\n")
    assert.lengthOf(m.saved(), 1, "a run's failure is not the saved machine's")
  }, 120_000)

  it("a run's files over 64 KiB travel on a share of the run's own, gone after the run", async () => {
    const m = machine({ consoles: [exitLine(0)] })
    const big = path.join(m.dir, "big")
    fs.writeFileSync(big, Buffer.alloc(GuestFiles.inlineLimit + 1))
    const run = await m.exec(["--cold", "--add-file", big, "/bin/true"])
    assert.strictEqual(run.status, 0, run.stderr)
    const [message] = runsTaken(m.fake)
    const spec = message!.run as { readonly runFiles?: ReadonlyArray<string>; readonly inlineFiles?: unknown }
    assert.includeMembers([...spec.runFiles ?? []], ["/data/big", "/exec/true"])
    assert.isUndefined(spec.inlineFiles)
    const args = m.fake.recorded().args
    const share = args.find((arg, i) => args[i - 1] === "-fsdev" && arg.includes(`${m.tmp}/effect-sysinit-run-`))
    assert.isDefined(share, args.join(" "))
    assert.include(share!, "readonly=on")
    assert.include(args, "virtio-9p-pci,fsdev=fs0,mount_tag=run")
    assert.deepStrictEqual(fs.readdirSync(m.tmp), [], "the run's share is removed")
  }, 120_000)

  it("a save that fails keeps nothing, and the run boots cold and says why", async () => {
    const m = machine({ save: "failed", consoles: [exitLine(0)] })
    const run = await m.exec(["--verbose", "/bin/true"])
    assert.strictEqual(run.status, 0, run.stderr)
    assert.include(run.stderr, "the machine could not be saved (QEMU's monitor: migrate: the save ended failed)")
    assert.deepStrictEqual(starts(m.fake), ["boot with QMP", "boot"])
    assert.deepStrictEqual(m.saved(), [], "nothing half-saved is left")
  }, 120_000)

  it("a boot that never reaches its ready point ends the run as it ended, and keeps nothing", async () => {
    const panic = "[    4.6] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"
    const m = machine({ neverReady: true, consoles: [`${panic}\n`] })
    const run = await m.exec(["/bin/true"])
    assert.strictEqual(run.status, 122, run.stderr)
    assert.include(run.stderr, "guest error: kernel panic: VFS: Unable to mount root fs")
    assert.deepStrictEqual(starts(m.fake), ["boot with QMP"], "one boot: nothing to restore")
    assert.deepStrictEqual(m.saved(), [])
  }, 120_000)

  it("sends the run again until the guest takes it", async () => {
    const m = machine({ ignoreRuns: 2, consoles: [exitLine(0)] })
    const run = await m.exec(["--cold", "/bin/true"])
    assert.strictEqual(run.status, 0, run.stderr)
    const messages = m.fake.events().flatMap((event) => event.event === "run" ? [event] : [])
    assert.deepStrictEqual(messages.map((event) => event.ignored), [true, true, false])
    assert.lengthOf(new Set(messages.map((event) => event.message.nonce)), 1, "the same run each time")
  }, 120_000)

  it("with --timings, says when a restored run reached each phase, in order", async () => {
    const m = machine({ consoles: [exitLine(0)] })
    await m.exec(["/bin/true"])
    const run = await m.exec(["--timings", "/bin/true"])
    assert.strictEqual(run.status, 0, run.stderr)
    assert.deepStrictEqual(timingPhases(run.stderr), [
      "plan",
      "image",
      "qemu spawned",
      "guest ready",
      "program started",
      "program exited",
      "qemu exited",
      "runner exit"
    ])
  }, 120_000)

  // Which variables each choice gives is output.colorEnvironment's (verdictAndFlags.test.ts); here, that the program gets them.
  const colours: ReadonlyArray<readonly [string, boolean, string | undefined]> = [
    ["no colour when stdout is a pipe", false, "1"],
    ["colour when stdout is a terminal", true, undefined]
  ]
  for (const [name, terminal, noColor] of colours) {
    it(`tells the program to colour its output as the runner's stdout would: ${name}`, async () => {
      const m = machine({ consoles: [exitLine(0)] })
      const run = await m.exec(["--cold", "/bin/true"], { stdoutIsTerminal: terminal })
      assert.strictEqual(run.status, 0, run.stderr)
      const [message] = runsTaken(m.fake)
      const env = (message!.run as { readonly env: Readonly<Record<string, string>> }).env
      assert.strictEqual(env["NO_COLOR"], noColor)
    }, 120_000)
  }

  it("two first runs at once both pass, and one saved machine is kept", async () => {
    const m = machine({ consoles: [exitLine(3), "out\n"] })
    const saved = { ...process.env }
    for (const [name, value] of Object.entries(m.env)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    try {
      const runOnce = Effect.gen(function*() {
        const plan = yield* ExecPlan.make({
          program: "/bin/true",
          args: [],
          cwd: m.dir,
          hostEnv: process.env,
          color: {},
          arch: undefined,
          transport: undefined,
          kernel,
          kernelModules: modules,
          shares: [],
          hostRoot: false,
          outputs: [],
          inputs: [],
          goTestRewrite: false,
          guest: { env: [], hostname: Option.none() },
          node: undefined,
          addFiles: [],
          addModules: []
        })
        const stdout: Array<Uint8Array> = []
        const report = yield* Runner.run({
          init: guestModule("execInit"),
          kernel: plan.kernel,
          arch: plan.arch,
          transport: plan.transport,
          kvm: false,
          modules: plan.imageModules,
          extraFiles: plan.imageFiles,
          shares: plan.shares,
          control: { run: plan.spec, runFiles: plan.runFiles, restore: true },
          stdout: (chunk) => Effect.sync(() => void stdout.push(chunk)),
          stderr: () => Effect.void,
          console: () => Effect.void
        })
        return { report, stdout: Buffer.concat(stdout).toString() }
      })
      const runs = await Effect.runPromise(
        Effect.all([runOnce, runOnce], { concurrency: 2 }).pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv()),
          Effect.provide(NodeServices.layer)
        )
      )
      for (const { report, stdout } of runs) {
        assert.deepStrictEqual(report.outcome, Qemu.Outcome.Exited({ code: 3 }))
        assert.strictEqual(stdout, "out\n")
        assert.include(["saved and restored", "restored"], report.start)
      }
      assert.lengthOf(m.saved(), 1, `${m.cache}: ${m.saved().join(", ")}`)
      assert.isTrue(fs.existsSync(path.join(m.cache, "machines", m.saved()[0]!, "entry.json")))
    } finally {
      for (const name of Object.keys(m.env)) {
        if (saved[name] === undefined) delete process.env[name]
        else process.env[name] = saved[name]
      }
    }
  }, 120_000)
})
