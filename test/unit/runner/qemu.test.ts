/**
 * Qemu.run against a fake QEMU (fakeQemu.ts): which console tells how the
 * guest ended, which verdict counts, how QEMU's own failures and a timeout
 * end the run, and that the console files have no name. No kernel, no VM.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, FileSystem, Schedule } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Qemu from "../../../src/runner/machine/Qemu.ts"
import type { Machine } from "../../../src/runner/machine/qemuCommand.ts"
import * as Qmp from "../../../src/runner/restore/Qmp.ts"
import * as FakeQemu from "./fakeQemu.ts"

const machine = (qemu: string): Machine => ({
  kernel: "/fake/vmlinuz",
  initramfs: "/fake/initramfs.cpio",
  memory: 256,
  smp: 1,
  kvm: false,
  transport: "serial",
  args: [],
  qemu
})

const panicReason = "Attempted to kill init! exitcode=0x00000000"
const panicLine = `[    4.668231] Kernel panic - not syncing: ${panicReason}`
const oomReason = "Out of memory: Killed process 1 (node) total-vm:1000kB"
const oomLine = `[   12.500000] ${oomReason}`
const bootLine = "[    0.000000] Linux version 6.1.0-56-amd64"

/**
 * Runs Qemu.run with a fake QEMU playing `scenario`, and checks what must
 * hold however it ended: the fake ran, and its console files were files
 * without a name. Live clock: Qemu.run polls the console files.
 */
const runFake = (
  scenario: Omit<FakeQemu.Scenario, "record">,
  options: { readonly timeout?: Duration.Input; readonly outputs?: ReadonlyArray<string> } = {}
) =>
  Effect.gen(function*() {
    const fileSystem = yield* FileSystem.FileSystem
    const fake = FakeQemu.make(yield* fileSystem.makeTempDirectoryScoped(), scenario)
    const stdout: Array<Uint8Array> = []
    const console: Array<string> = []
    const result = yield* Effect.result(Qemu.run(machine(fake.binary), {
      stdout: (chunk) => Effect.sync(() => void stdout.push(chunk)),
      console: (line) => Effect.sync(() => void console.push(line)),
      outputs: options.outputs ?? [],
      timeout: options.timeout
    }))
    assert.isTrue(fake.ran(), "the fake QEMU ran")
    const recorded = fake.recorded()
    // Files without a name, reached through the runner's descriptors: nothing to remove (test/vm/lifetime.test.ts).
    for (const file of recorded.consoleFiles.slice(0, 2)) {
      assert.match(file, new RegExp(`^/proc/${process.pid}/fd/\\d+$`))
    }
    const bytes = Buffer.concat(stdout)
    return { result, console, bytes, stdout: bytes.toString("utf8"), recorded }
  }).pipe(Effect.scoped)

/** The outcome of a run that must have succeeded. */
const outcome = (run: Effect.Success<ReturnType<typeof runFake>>): Qemu.Outcome => {
  if (run.result._tag === "Failure") assert.fail(`Qemu.run failed: ${run.result.failure.message}`)
  return run.result.success.outcome
}

const outcomeOf = (scenario: Omit<FakeQemu.Scenario, "record">) => Effect.map(runFake(scenario), outcome)

describe.concurrent("Qemu.run with a fake QEMU", () => {
  it.live("hands console 0 line by line and console 1 byte for byte, and reads the exit code from console 0", () =>
    Effect.gen(function*() {
      const run = yield* runFake({
        consoles: [
          `${bootLine}\r\nsysinit 2026/11/27 08:53:12.123456 INFO  hello\nVIRTRUN_EXIT_CODE: 3\n`,
          "out\0put\n"
        ]
      })
      assert.deepStrictEqual(outcome(run), Qemu.Outcome.Exited({ code: 3 }))
      assert.deepStrictEqual(run.console, [
        bootLine,
        "sysinit 2026/11/27 08:53:12.123456 INFO  hello",
        "VIRTRUN_EXIT_CODE: 3"
      ])
      assert.strictEqual(run.stdout, "out\0put\n")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("an exit code line on console 1 or on QEMU's stdout fakes nothing: the guest ended without one", () =>
    Effect.gen(function*() {
      const run = yield* runFake({
        consoles: [`${bootLine}\n`, "VIRTRUN_EXIT_CODE: 0\n"],
        stdout: "VIRTRUN_EXIT_CODE: 0\n"
      })
      assert.deepStrictEqual(outcome(run), Qemu.Outcome.NoExitCode())
      assert.strictEqual(run.stdout, "VIRTRUN_EXIT_CODE: 0\n", "the guest's stdout still passes")
    }).pipe(Effect.provide(NodeServices.layer)))

  const endings: ReadonlyArray<readonly [string, ReadonlyArray<string>, Qemu.Outcome]> = [
    ["a kernel panic", [bootLine, panicLine], Qemu.Outcome.KernelPanic({ reason: panicReason })],
    ["the OOM killer", [bootLine, oomLine], Qemu.Outcome.OutOfMemory({ reason: oomReason })],
    ["no line that says", [bootLine, "[    6.168324] reboot: Restarting system"], Qemu.Outcome.NoExitCode()],
    ["an exit code, then a panic", ["VIRTRUN_EXIT_CODE: 0", panicLine], Qemu.Outcome.Exited({ code: 0 })],
    [
      "a panic, then an exit code",
      [panicLine, "VIRTRUN_EXIT_CODE: 0"],
      Qemu.Outcome.KernelPanic({ reason: panicReason })
    ],
    ["two exit codes", ["VIRTRUN_EXIT_CODE: 1", "VIRTRUN_EXIT_CODE: 0"], Qemu.Outcome.Exited({ code: 1 })],
    ["the OOM killer, then a panic", [oomLine, panicLine], Qemu.Outcome.OutOfMemory({ reason: oomReason })]
  ]
  for (const [name, lines, expected] of endings) {
    it.live(`the first line of console 0 that tells how the guest ended counts: ${name}`, () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* outcomeOf({ consoles: [`${lines.join("\n")}\n`] }), expected)
      }).pipe(Effect.provide(NodeServices.layer)))
  }

  it.live("passes all of console 1, in order, while QEMU writes it piece by piece", () =>
    Effect.gen(function*() {
      const size = 4 * 1024 * 1024 + 5
      const run = yield* runFake({ streamSize: size, consoles: ["VIRTRUN_EXIT_CODE: 0\n"] })
      assert.deepStrictEqual(outcome(run), Qemu.Outcome.Exited({ code: 0 }))
      assert.strictEqual(run.bytes.length, size)
      const expected = Buffer.alloc(size)
      for (let i = 0; i < size; i++) expected[i] = FakeQemu.streamByte(i)
      assert.isTrue(run.bytes.equals(expected), "byte-identical")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("writes consoles 2, 3, … to their host files", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const dir = yield* fileSystem.makeTempDirectoryScoped()
      const outputs = [path.join(dir, "second"), path.join(dir, "third")]
      const run = yield* runFake({ consoles: ["VIRTRUN_EXIT_CODE: 0\n", "", "two\n", "three\n"] }, { outputs })
      assert.deepStrictEqual(run.recorded.consoleFiles.slice(2), outputs)
      assert.deepStrictEqual(outputs.map((file) => fs.readFileSync(file, "utf8")), ["two\n", "three\n"])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.live("serves the terminal console both ways: what the runner sends reaches the guest, all it writes back arrives", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const fake = FakeQemu.make(yield* fileSystem.makeTempDirectoryScoped(), {
        terminal: { console: 2, reply: "guest saw: " },
        consoles: ["VIRTRUN_EXIT_CODE: 0\n"]
      })
      const terminal: Array<Uint8Array> = []
      const ending = yield* Qemu.run({ ...machine(fake.binary), transport: "virtio" }, {
        stdout: () => Effect.void,
        console: () => Effect.void,
        outputs: [],
        terminal: (chunk) => Effect.sync(() => void terminal.push(chunk)),
        onStart: (vm) => vm.sendTerminal(new TextEncoder().encode("ls\r"))
      })
      assert.deepStrictEqual(ending.outcome, Qemu.Outcome.Exited({ code: 0 }))
      assert.strictEqual(Buffer.concat(terminal).toString(), "guest saw: ls\r")
      assert.match(
        fake.recorded().args.join(" "),
        /-chardev socket,id=con2,path=\S+\/terminal\.sock -device virtconsole/
      )
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.live("QEMU failing before the guest said anything is QemuFailed, with its exit code and last stderr line", () =>
    Effect.gen(function*() {
      const run = yield* runFake({
        stderr: "qemu-system-x86_64: warning: something\nqemu-system-x86_64: could not load kernel '/fake/vmlinuz'\n",
        exitCode: 1
      })
      assert.strictEqual(run.result._tag, "Failure")
      const error = run.result._tag === "Failure" ? run.result.failure : undefined
      assert.instanceOf(error, Qemu.QemuFailed)
      assert.strictEqual((error as Qemu.QemuFailed).exitCode, 1)
      assert.strictEqual(
        (error as Qemu.QemuFailed).message,
        "QEMU exited with 1: qemu-system-x86_64: could not load kernel '/fake/vmlinuz'"
      )
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("QEMU's exit code does not matter once console 0 told how the guest ended", () =>
    Effect.gen(function*() {
      const ended = yield* outcomeOf({ consoles: ["VIRTRUN_EXIT_CODE: 5\n"], exitCode: 1 })
      assert.deepStrictEqual(ended, Qemu.Outcome.Exited({ code: 5 }))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("a QEMU binary that is not there is QemuNotFound, naming the package to install", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Qemu.run(machine("/nonexistent/qemu-system-x86_64"), {
        stdout: () => Effect.void,
        console: () => Effect.void,
        outputs: []
      }))
      assert.instanceOf(error, Qemu.QemuNotFound)
      assert.strictEqual(
        error.message,
        "/nonexistent/qemu-system-x86_64 not found: install the Debian/Ubuntu package qemu-system-x86 (apt-get install -y qemu-system-x86)"
      )
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("a QEMU that does not end is killed at the timeout: TimedOut, QEMU gone, console files removed", () =>
    Effect.gen(function*() {
      const run = yield* runFake({ consoles: [`${bootLine}\n`], hang: true }, { timeout: "1 second" })
      assert.deepStrictEqual(outcome(run), Qemu.Outcome.TimedOut({ timeout: Duration.seconds(1) }))
      assert.deepStrictEqual(run.console, [bootLine], "console 0 was read until the end")
      assert.isFalse(FakeQemu.isAlive(run.recorded.pid), "QEMU's process is gone")
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("QEMU's failures as the runner says them", () => {
  const failures: ReadonlyArray<readonly [string, Qemu.QemuFailed, string]> = [
    [
      "an exit code and QEMU's last line",
      new Qemu.QemuFailed({ exitCode: 1, stderr: "warning: x\nqemu: cannot open /fake/vmlinuz\n", kvm: false }),
      "QEMU exited with 1: qemu: cannot open /fake/vmlinuz"
    ],
    ["nothing on stderr", new Qemu.QemuFailed({ exitCode: 2, stderr: "", kvm: false }), "QEMU exited with 2"],
    ["a signal", new Qemu.QemuFailed({ exitCode: -1, stderr: "", kvm: false }), "QEMU was killed by a signal"],
    [
      "a failure under KVM, with what to pass to do without",
      new Qemu.QemuFailed({ exitCode: -1, stderr: "kvm_run: assertion failed\n", kvm: true }),
      "QEMU was killed by a signal: kvm_run: assertion failed (KVM was used: if it does not work on this host, pass --no-kvm to boot under TCG)"
    ]
  ]
  for (const [name, error, message] of failures) {
    it(`says ${name}`, () => assert.strictEqual(error.message, message))
  }
})

describe("Qemu.run's other streams, with a fake QEMU", () => {
  it.live("a detached boot connects none of the consoles that face the user, and leaves their files alone", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const dir = yield* fileSystem.makeTempDirectoryScoped()
      const output = path.join(dir, "output")
      yield* fileSystem.writeFileString(output, "the user's")
      const fake = FakeQemu.make(dir, { consoles: ["VIRTRUN_EXIT_CODE: 0\n"] })
      const ending = yield* Qemu.run({ ...machine(fake.binary), transport: "virtio" }, {
        stdout: () => Effect.void,
        console: () => Effect.void,
        outputs: [output],
        inputs: [path.join(dir, "input.sock")],
        terminal: () => Effect.void,
        control: true,
        detached: true
      })
      assert.deepStrictEqual(ending.outcome, Qemu.Outcome.Exited({ code: 0 }))
      const chardevs = fake.recorded().args.filter((_, i, args) => args[i - 1] === "-chardev")
      assert.deepStrictEqual(chardevs.slice(2), ["null,id=con2", "null,id=con3", "null,id=con4", "null,id=con5"])
      assert.strictEqual(yield* fileSystem.readFileString(output), "the user's")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.live("a terminal that QEMU never connected to does not hold the run once QEMU ended", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const fake = FakeQemu.make(yield* fileSystem.makeTempDirectoryScoped(), { consoles: ["VIRTRUN_EXIT_CODE: 4\n"] })
      const terminal: Array<Uint8Array> = []
      const ending = yield* Qemu.run({ ...machine(fake.binary), transport: "virtio" }, {
        stdout: () => Effect.void,
        console: () => Effect.void,
        outputs: [],
        terminal: (chunk) => Effect.sync(() => void terminal.push(chunk))
      })
      assert.deepStrictEqual(ending.outcome, Qemu.Outcome.Exited({ code: 4 }))
      assert.lengthOf(terminal, 0)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.live("a start hook that fails kills QEMU, and the run fails with the hook's error", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const fake = FakeQemu.make(yield* fileSystem.makeTempDirectoryScoped(), { consoles: ["booting\n"], hang: true })
      const error = yield* Effect.flip(Qemu.run(machine(fake.binary), {
        stdout: () => Effect.void,
        console: () => Effect.void,
        outputs: [],
        // Fails once QEMU runs (the fake has said so), which it would go on doing.
        onStart: () =>
          Effect.andThen(
            Effect.repeat(Effect.sync(fake.ran), { until: (ran) => ran, schedule: Schedule.spaced("5 millis") }),
            Effect.fail(new Qmp.QmpError({ command: "stop", reason: "refused" }))
          )
      }))
      assert.instanceOf(error, Qmp.QmpError)
      assert.strictEqual(error.message, "QEMU's monitor: stop: refused")
      assert.isFalse(FakeQemu.isAlive(fake.recorded().pid), "QEMU's process is gone")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
