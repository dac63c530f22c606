/**
 * The `effect-sysinit` command run in this process (`main.run` on an
 * argument list), as `bin/effect-sysinit` runs it but for the process's
 * exit: what it wrote on stdout and stderr, and the exit code it set. So
 * the runner's code is measured by the unit tier's coverage, which a child
 * process is not.
 *
 * A run changes what the command reads of the process for its time (the
 * environment, the working directory, whether stdout is a terminal, the
 * host's terminal) and puts it all back; runs therefore take turns.
 */
import { NodeServices } from "@effect/platform-node"
import { assert } from "@effect/vitest"
import { ConfigProvider, Console, Effect, type Exit, Runtime } from "effect"
import { EventEmitter } from "node:events"
import * as fs from "node:fs"
import * as path from "node:path"
import { Readable } from "node:stream"
import { format } from "node:util"
import * as HostTerminal from "../../../src/runner/cli/hostTerminal.ts"
import * as Main from "../../../src/runner/cli/main.ts"

/** How a run of the command went. */
export interface CliRun {
  /** The exit code the process would end with. */
  readonly status: number
  readonly stdout: string
  readonly stderr: string
  readonly exit: Exit.Exit<void, unknown>
}

/** What the command sees of the process during a run. */
export interface CliOptions {
  /** Variables to set (undefined: to remove) for the run. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  readonly cwd?: string | undefined
  /** Whether the runner's stdout is a terminal (it is a pipe by default). */
  readonly stdoutIsTerminal?: boolean | undefined
  /** The host's terminal (`HostTerminal.Host`): stdin is an empty pipe by default. */
  readonly host?: HostTerminal.Streams | undefined
}

/** A stdin that is a pipe holding `bytes`, with no terminal anywhere. */
export const pipedHost = (bytes: string | Uint8Array = ""): HostTerminal.Streams => {
  const stdin = Readable.from([Buffer.from(bytes)]) as unknown as HostTerminal.Input
  return { stdin, stdout: {}, stderr: {}, events: new EventEmitter() }
}

type Write = typeof process.stdout.write

/** Takes what is written to `stream` for the run, calling back as a stream does. */
const capture = (stream: NodeJS.WriteStream, into: Array<string>): () => void => {
  const original = stream.write
  stream.write = ((chunk: string | Uint8Array, ...rest: Array<unknown>) => {
    into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))
    const callback = rest.find((arg) => typeof arg === "function") as ((error?: Error) => void) | undefined
    if (callback !== undefined) process.nextTick(callback)
    return true
  }) as Write
  return () => void (stream.write = original)
}

const setEnv = (values: Readonly<Record<string, string | undefined>>) => {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
}

const runNow = async (argv: ReadonlyArray<string>, options: CliOptions): Promise<CliRun> => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  const savedEnv = Object.fromEntries(Object.keys(options.env ?? {}).map((name) => [name, process.env[name]]))
  const savedCwd = process.cwd()
  const savedExitCode = process.exitCode
  const savedIsTTY = process.stdout.isTTY
  const console: Console.Console = Object.assign(Object.create(globalThis.console), {
    log: (...args: ReadonlyArray<unknown>) => void stdout.push(`${format(...args)}\n`),
    info: (...args: ReadonlyArray<unknown>) => void stdout.push(`${format(...args)}\n`),
    error: (...args: ReadonlyArray<unknown>) => void stderr.push(`${format(...args)}\n`),
    warn: (...args: ReadonlyArray<unknown>) => void stderr.push(`${format(...args)}\n`)
  })
  const restores = [capture(process.stdout, stdout), capture(process.stderr, stderr)]
  try {
    setEnv(options.env ?? {})
    if (options.cwd !== undefined) process.chdir(options.cwd)
    process.exitCode = undefined
    process.stdout.isTTY = (options.stdoutIsTerminal === true ? true : savedIsTTY) as boolean
    const exit = await Effect.runPromiseExit(
      Main.run(argv).pipe(
        Effect.provide(NodeServices.layer),
        Effect.provideService(Console.Console, console),
        // The default provider holds the environment it first saw: this run's is read anew.
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv()),
        Effect.provideService(HostTerminal.Host, options.host ?? pipedHost())
      )
    )
    // As main.runMain ends the process: with the teardown's code when it is not 0, else with process.exitCode.
    let teardownCode = 0
    Runtime.defaultTeardown(exit, (code) => void (teardownCode = code))
    return {
      status: teardownCode !== 0 ? teardownCode : Number(process.exitCode ?? 0),
      stdout: stdout.join(""),
      stderr: stderr.join(""),
      exit
    }
  } finally {
    for (const restore of restores) restore()
    process.stdout.isTTY = savedIsTTY as boolean
    process.exitCode = savedExitCode
    process.chdir(savedCwd)
    setEnv(savedEnv)
  }
}

let turn: Promise<unknown> = Promise.resolve()

/** Runs `effect-sysinit ARGV…` in this process, once the runs before it ended. */
export const runCli = (argv: ReadonlyArray<string>, options: CliOptions = {}): Promise<CliRun> => {
  const run = turn.then(() => runNow(argv, options))
  turn = run.catch(() => undefined)
  return run
}

/**
 * A file that passes for an x86_64 kernel image ("HdrS" at 0x202): with
 * the fake QEMU nothing boots it.
 */
export const fakeKernel = (dir: string): string => {
  const kernel = path.join(dir, "vmlinuz")
  const bytes = Buffer.alloc(0x400)
  bytes.write("HdrS", 0x202)
  fs.writeFileSync(kernel, bytes)
  return kernel
}

/**
 * A module tree (`--kernel-modules`) whose kernel has 9p and the virtio
 * consoles built in: `exec` then lays out virtio consoles, and its runs are
 * restorable (their files travel on a share of their own).
 */
export const builtinModuleTree = (dir: string): string => {
  const tree = path.join(dir, "modules")
  fs.mkdirSync(path.join(tree, "kernel"), { recursive: true })
  fs.writeFileSync(
    path.join(tree, "modules.builtin"),
    [
      "kernel/fs/9p/9p.ko",
      "kernel/net/9p/9pnet.ko",
      "kernel/net/9p/9pnet_virtio.ko",
      "kernel/drivers/virtio/virtio.ko",
      "kernel/drivers/virtio/virtio_ring.ko",
      "kernel/drivers/virtio/virtio_pci.ko",
      "kernel/drivers/char/virtio_console.ko"
    ].map((line) => `${line}\n`).join("")
  )
  return tree
}

// The folders of the cache that runs of one init share whatever their machines: its image, made once.
const imageFolders = ["images", "snapshots", "libraries", "modules"]

/**
 * A cache directory of its own (its saved machines, its KVM answers) whose
 * images are those of `shared`: a test's runs find the image the file's
 * first run built.
 */
export const cacheSharingImages = (shared: string, dir: string): string => {
  const cache = path.join(dir, "cache")
  fs.mkdirSync(cache, { recursive: true })
  for (const folder of imageFolders) {
    fs.mkdirSync(path.join(shared, folder), { recursive: true })
    fs.symlinkSync(path.join(shared, folder), path.join(cache, folder))
  }
  return cache
}

/**
 * The phases of a `--timings` line on stderr, with their ms, after
 * asserting that the line is there and that each phase comes after the one
 * before.
 */
export const timingPhases = (stderr: string): ReadonlyArray<string> => {
  const line = /^effect-sysinit: timings, ms from the command's start: (.*)$/m.exec(stderr)
  assert.isNotNull(line, stderr)
  const marks = line![1]!.split(", ").map((mark) => /^(.+) (\d+)$/.exec(mark)!)
  const times = marks.map(([, , ms]) => Number(ms))
  assert.deepStrictEqual(times, times.toSorted((a, b) => a - b), "each phase comes after the one before")
  return marks.map(([, phase]) => phase!)
}
