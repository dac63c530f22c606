/**
 * A vitest pool that runs test files inside throwaway VMs: each pool worker
 * is `effect-sysinit exec --host-root` of vitest's worker, with the project
 * and its `node_modules` shared in at the same paths. vitest's messages go
 * in over a console of their own (a unix socket on the host, in raw mode in
 * the guest) and come out in frames on console 1, the worker's stdout.
 *
 * @example
 * ```ts
 * import { defineConfig } from "vitest/config"
 * import { vmPool } from "effect-sysinit/vitest"
 *
 * export default defineConfig({
 *   test: { include: ["test/kernel/**"], pool: vmPool({ memory: 1024 }) }
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Duration, Option } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { EventEmitter } from "node:events"
import { mkdtempSync, realpathSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { createServer, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, sep } from "node:path"
import type { TestProjectInlineConfiguration } from "vitest/config"
import type { PoolOptions, PoolRunnerInitializer, PoolWorker, WorkerRequest } from "vitest/node"
import { decodePayload, encodeMessage, encodePayload, FrameDecoder, isHello } from "./protocol/vitestFraming.ts"
import { durationExamples, parseDuration } from "./runner/duration.ts"
import { shownByHostRoot } from "./runner/exec/shares.ts"
import * as GuestCompileCache from "./runner/guestCompileCache.ts"
import { bin as runnerBin, guestModule, packageRoot } from "./runner/packageFiles.ts"

/**
 * The VMs of the pool; each field has the meaning of the `exec` flag of its
 * name.
 *
 * @since 0.1.0
 * @category models
 */
export interface VmPoolOptions {
  /**
   * The kernel, as `--kernel` takes it: an image file, or a name of Debian's
   * (`6.1`, `6.12`, `6.12-cloud`, …, fetched once); `$SYSINIT_KERNEL`, else
   * 6.1, by default. `kernelProjects` runs the same files on several.
   */
  readonly kernel?: string | undefined
  /** MiB of memory per VM; `exec`'s default (1024) when absent. */
  readonly memory?: number | undefined
  /** CPUs per VM. */
  readonly smp?: number | undefined
  /** Kernel modules (`.ko` files) loaded before the worker starts. */
  readonly modules?: ReadonlyArray<string> | undefined
  /** More host directories, as `--share` takes them (`HOST[:GUEST][:ro]`). */
  readonly shares?: ReadonlyArray<string> | undefined
  /** Variables of the worker's environment, besides vitest's own. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /**
   * How long one test file may run (e.g. `"60 seconds"`, `"2 minutes"` or ms; a run of several files gets it for
   * each); past it, its VM is ended and the file fails. A value it cannot read throws in `vmPool`.
   */
  readonly timeout?: string | number | undefined
  /** The guest's node: the one running vitest by default (the wire is V8's serialization, which must match). */
  readonly node?: string | undefined
  /** Boot each VM cold and save nothing (`exec --cold`); by default a VM is a restore of the saved machine. */
  readonly cold?: boolean | undefined
  /** Further `exec` flags, as its command line takes them. */
  readonly execFlags?: ReadonlyArray<string> | undefined
  /**
   * Whether the workers' node keeps its compile cache in the cache directory
   * (`node-compile-cache/`, shared into each VM): vitest's modules are then
   * compiled once rather than in every VM. True by default.
   */
  readonly compileCache?: boolean | undefined
}

/**
 * The name vitest knows the pool's workers by.
 *
 * @since 0.1.0
 * @category constants
 */
export const poolName = "effect-sysinit-vm"

const workerEntry = guestModule("vitestWorker")
const timeoutMillis = (timeout: string | number): number => {
  if (typeof timeout === "number") return timeout
  const parsed = parseDuration(timeout)
  if (Option.isNone(parsed)) throw new Error(`effect-sysinit/vitest: timeout ${timeout}: expected ${durationExamples}`)
  return Duration.toMillis(parsed.value)
}

/** The node_modules directory a package resolves from, real path. */
const nodeModulesOf = (packageJson: string): string => {
  const real = realpathSync(packageJson)
  const at = real.lastIndexOf(`${sep}node_modules${sep}`)
  return at === -1 ? dirname(real) : real.slice(0, at + `${sep}node_modules`.length)
}

/** The directories to share: none inside another. */
const outermost = (paths: ReadonlyArray<string>): ReadonlyArray<string> => {
  const unique = [...new Set(paths)].toSorted((a, b) => a.length - b.length)
  return unique.filter((path, i) => !unique.slice(0, i).some((outer) => path.startsWith(outer + sep)))
}

// Workers whose VM may still run: when vitest's process exits (Ctrl-C, a bail), their runners are told to
// stop (each kills its QEMU and removes its files on SIGTERM) and their sockets are removed.
const liveWorkers = new Set<VmPoolWorker>()
let exitHookInstalled = false
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const worker of liveWorkers) worker.abandon()
  })
}

/** What the worker in the guest sends: vitest's responses and RPC calls, read only for their type. */
type Response = {
  readonly __vitest_worker_response__?: unknown
  readonly type?: unknown
  readonly error?: unknown
} | null

const isStart = (message: WorkerRequest): boolean => "__vitest_worker_request__" in message && message.type === "start"

class VmPoolWorker implements PoolWorker {
  readonly name = poolName
  readonly cacheFs = true
  private readonly events = new EventEmitter()
  private child: ChildProcess | undefined
  private server: Server | undefined
  private channel: Socket | undefined
  private directory: string | undefined
  private exited: Promise<void> | undefined
  private watchdog: NodeJS.Timeout | undefined
  private connection: Promise<Socket> | undefined
  /** Whether the worker in the guest said hello, and whether it has started: vitest's requests wait till then. */
  private greeted = false
  private ready = false
  /** Whether vitest asked this worker to stop (its VM's end is then no error). */
  private stopping = false
  private readonly waiting: Array<WorkerRequest> = []
  private readonly stdout: NodeJS.WritableStream
  private readonly stderr: NodeJS.WritableStream
  private readonly root: string
  private readonly options: PoolOptions
  private readonly vm: VmPoolOptions
  /** How long one file may run, in ms; no limit when undefined. */
  private readonly timeout: number | undefined

  constructor(options: PoolOptions, vm: VmPoolOptions, timeout: number | undefined) {
    this.options = options
    this.vm = vm
    this.timeout = timeout
    this.stdout = options.project.vitest.logger.outputStream
    this.stderr = options.project.vitest.logger.errorStream
    this.root = options.project.config.root
  }

  on(event: string, callback: (...args: Array<unknown>) => void): void {
    this.events.on(event, callback)
  }

  off(event: string, callback: (...args: Array<unknown>) => void): void {
    this.events.off(event, callback)
  }

  send(message: WorkerRequest): void {
    const type = "__vitest_worker_request__" in message ? message.type : undefined
    // Booting the VM (and, on a new machine, fetching a kernel and saving a machine) can take longer than
    // vitest gives a worker to start: "start" is answered here at once and passed on when the guest's
    // worker says hello; what vitest sends next waits until that worker has started (`isStartAnswer`).
    // A "stop" before then is answered here too, and `stop` ends the VM.
    const early = type === "start" ? "started" : type === "stop" && !this.ready ? "stopped" : undefined
    if (early !== undefined) {
      queueMicrotask(() =>
        this.events.emit("message", encodePayload({ type: early, __vitest_worker_response__: true }))
      )
    }
    if (type === "stop" && !this.ready) return
    if (this.ready || (type === "start" && this.greeted)) this.deliver(message)
    else this.waiting.push(message)
  }

  /** Writes a request to the worker in the guest. */
  private deliver(message: WorkerRequest): void {
    if ("__vitest_worker_request__" in message && (message.type === "run" || message.type === "collect")) {
      this.armWatchdog(message.context.files.map((file) => file.filepath))
    }
    if (this.channel === undefined || this.channel.destroyed) return // a dying VM: its exit reports
    this.channel.write(encodeMessage(message))
  }

  deserialize(data: unknown): unknown {
    return decodePayload(data as Buffer)
  }

  /**
   * Gives a run its time: the timeout for each of its files. vitest sends a
   * run of one file, or (`isolate: false`, one worker) of all of them, and
   * its worker answers a run with one "testfileFinished", however many files.
   */
  private armWatchdog(files: ReadonlyArray<string>): void {
    clearTimeout(this.watchdog)
    const millis = this.timeout
    if (millis === undefined) return
    const several = files.length > 1
    const what = several ? `the run of ${files.join(", ")}` : files[0] ?? "the test file"
    const limit = several ? `${millis} ms a file` : `${millis} ms`
    this.watchdog = setTimeout(() => {
      this.stderr.write(`effect-sysinit/vitest: ${what} ran past the pool's timeout of ${limit}; its VM was stopped\n`)
      this.child?.kill("SIGTERM")
    }, millis * Math.max(1, files.length))
  }

  private onResponse(message: Response): void {
    if (message?.__vitest_worker_response__ === true && message.type === "testfileFinished") {
      clearTimeout(this.watchdog)
    }
  }

  private execArguments(socket: string): Array<string> {
    const vm = this.vm
    const shares = outermost([
      realpathSync(this.root),
      nodeModulesOf(createRequire(join(this.root, "package.json")).resolve("vitest/package.json")),
      realpathSync(packageRoot),
      nodeModulesOf(createRequire(workerEntry).resolve("vitest/package.json")),
      ...(shownByHostRoot(realpathSync(vm.node ?? process.execPath))
        ? []
        : [dirname(realpathSync(vm.node ?? process.execPath))])
    ])
    const compileCache = vm.compileCache === false ? [] : [GuestCompileCache.prepare()]
    const env: Record<string, string> = {
      ...this.changedEnv(),
      ...Object.fromEntries(compileCache.map((folder) => [GuestCompileCache.variable, folder])),
      ...vm.env
    }
    return [
      "exec",
      "--transport",
      "virtio",
      "--host-root",
      "--input",
      socket,
      ...shares.flatMap((share) => ["--share", share]),
      ...[...compileCache, ...(vm.shares ?? [])].flatMap((share) => ["--share", share]),
      ...(vm.kernel === undefined ? [] : ["--kernel", vm.kernel]),
      ...(vm.memory === undefined ? [] : ["--memory", String(vm.memory)]),
      ...(vm.smp === undefined ? [] : ["--smp", String(vm.smp)]),
      ...(vm.modules ?? []).flatMap((module) => ["--add-module", module]),
      ...Object.entries(env).flatMap(([key, value]) => ["--env", `${key}=${value}`]),
      ...(vm.cold === true ? ["--cold"] : []),
      ...(vm.execFlags ?? []),
      "--",
      realpathSync(vm.node ?? process.execPath),
      ...this.options.execArgv,
      workerEntry
    ]
  }

  /** vitest's variables for the worker: those that differ from the host's own environment. */
  private changedEnv(): Record<string, string> {
    return Object.fromEntries(
      Object.entries(this.options.env).flatMap(([key, value]) =>
        value === undefined || process.env[key] === value ? [] : [[key, value]]
      )
    )
  }

  async start(): Promise<void> {
    if (this.child !== undefined) return
    const directory = mkdtempSync(join(tmpdir(), "effect-sysinit-vitest-"))
    this.directory = directory
    const socket = join(directory, "input.sock")
    let connected!: (channel: Socket) => void
    const connection = new Promise<Socket>((resolve) => (connected = resolve))
    this.connection = connection
    const server = createServer((channel) => connected(channel))
    this.server = server
    await new Promise<void>((resolve, reject) => server.listen(socket, resolve).once("error", reject))

    const args = this.execArguments(socket)
    if (process.env["EFFECT_SYSINIT_VITEST_DEBUG"] !== undefined) {
      this.stderr.write(`effect-sysinit/vitest: ${args.join(" ")}\n`)
    }
    const child = spawn(process.execPath, [runnerBin, ...args], {
      cwd: this.root,
      env: { ...process.env, EFFECT_SYSINIT_ARGS: "" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    this.child = child
    liveWorkers.add(this)
    installExitHook()
    let first = true
    const decoder = new FrameDecoder((payload) => {
      const message = decodePayload(payload) as Response
      if (first) {
        first = false
        if (isHello(message)) return this.onHello()
      }
      if (this.isStartAnswer(message)) return
      this.onResponse(message)
      this.events.emit("message", payload)
    }, (bytes) => void this.stdout.write(bytes))
    child.stdout.on("data", (chunk: Buffer) => decoder.push(chunk))
    child.stdout.on("end", () => decoder.flush())
    child.stderr.on("data", (chunk: Buffer) => void this.stderr.write(chunk))
    void connection.then((channel) => {
      this.channel = channel
      // A VM that ends closes the socket before the runner exits: let the exit report.
      channel.on("error", () => {})
    })
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        clearTimeout(this.watchdog)
        this.channel?.destroy()
        this.channel = undefined
        this.cleanUp()
        if (this.ready || this.stopping) {
          // vitest turns an exit it did not ask for into "Worker exited unexpectedly … while running test file X".
          this.events.emit("exit", code, signal)
        } else {
          this.fail(
            `effect-sysinit/vitest: the VM ended before vitest's worker started (runner exit code ${code}); see its output above`
          )
        }
        resolve()
      })
    })
    child.once("error", (error) => this.events.emit("error", error))
  }

  /** The worker in the guest is listening: vitest's "start" goes in now. */
  private onHello(): void {
    void this.connection?.then(() => {
      this.greeted = true
      const starts = this.waiting.filter(isStart)
      this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((message) => !isStart(message)))
      for (const message of starts) this.deliver(message)
    })
  }

  /**
   * Whether a message is the guest worker's answer to "start", which vitest
   * had at once (`send`): not passed on (passed on as an error when the
   * worker's set-up failed); what waited for it goes in now.
   */
  private isStartAnswer(message: Response): boolean {
    if (message?.type !== "started") return false
    if (message.error !== undefined) {
      const error = message.error as { readonly message?: unknown }
      this.fail(`effect-sysinit/vitest: vitest's worker in the VM failed to start: ${String(error.message ?? error)}`)
      return true
    }
    this.ready = true
    for (const waiting of this.waiting.splice(0)) this.deliver(waiting)
    return true
  }

  /** Fails the worker's files with `reason`: vitest listens for errors while it waits for a file. */
  private fail(reason: string): void {
    if (this.events.listenerCount("error") > 0) this.events.emit("error", new Error(reason))
  }

  /** At the host process's exit: stops the runner without waiting, and removes the socket. */
  abandon(): void {
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM")
    }
    this.cleanUp()
  }

  private cleanUp(): void {
    liveWorkers.delete(this)
    this.server?.close()
    this.server = undefined
    if (this.directory !== undefined) rmSync(this.directory, { recursive: true, force: true })
    this.directory = undefined
  }

  async stop(): Promise<void> {
    this.stopping = true
    const child = this.child
    if (child === undefined) return
    if (child.exitCode === null && child.signalCode === null) {
      // The worker answered "stopped": end its VM (the runner kills QEMU and removes its files on SIGTERM).
      child.kill("SIGTERM")
      await this.exited
    }
    this.child = undefined
  }
}

/**
 * The pool: `test.pool` of a vitest config (or of one of its projects).
 * vitest starts at most `maxWorkers` VMs at once and reuses one for further
 * files when `isolate` is false. A `timeout` it cannot read throws here, as
 * the config is read, not when the first file runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const vmPool = (options: VmPoolOptions = {}): PoolRunnerInitializer => {
  const timeout = options.timeout === undefined ? undefined : timeoutMillis(options.timeout)
  return {
    name: poolName,
    createPoolWorker: (poolOptions) => new VmPoolWorker(poolOptions, options, timeout)
  }
}

/**
 * The same test files on several kernels: one vitest project per kernel,
 * named for it (`kernel 6.1`, `kernel 6.12`: vitest shows the name beside
 * each file and test) and run by a pool of that kernel, whose workers have
 * its name in `EFFECT_SYSINIT_KERNEL`.
 *
 * @example
 * ```ts
 * import { defineConfig } from "vitest/config"
 * import { kernelProjects } from "effect-sysinit/vitest"
 *
 * export default defineConfig({
 *   test: { projects: kernelProjects(["6.1", "6.12"], { name: "kernel", include: ["test/kernel/**"] }) }
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const kernelProjects = (
  kernels: ReadonlyArray<string>,
  project: NonNullable<TestProjectInlineConfiguration["test"]> & { readonly name: string },
  options: Omit<VmPoolOptions, "kernel"> = {}
): Array<TestProjectInlineConfiguration> =>
  kernels.map((kernel) => ({
    test: {
      ...project,
      name: `${project.name} ${kernel}`,
      pool: vmPool({ ...options, kernel, env: { ...options.env, EFFECT_SYSINIT_KERNEL: kernel } })
    }
  }))
