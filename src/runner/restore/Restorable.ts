/**
 * A run of a machine whose init waits at a ready point (`Restore.awaitRun`
 * in the guest): restored from a saved machine when the cache has one;
 * else booted cold up to the ready point, saved there and then restored;
 * with `cold`, booted and run without saving. Every run then gets its
 * message over the control console, sent again until the init says it has
 * it. A saved machine that does not restore is removed and the run boots
 * cold; the reason goes to `note` (`--verbose`).
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { encodeRunMessage, parseStartedLine, readyLine, type RunMessage } from "../../protocol/control.ts"
import { Progress } from "../fetch/Progress.ts"
import * as Qemu from "../machine/Qemu.ts"
import type { Machine } from "../machine/qemuCommand.ts"
import * as Qmp from "./Qmp.ts"
import * as SavedMachines from "./SavedMachines.ts"

/**
 * The milestones of a run, as the runner sees them.
 *
 * @since 0.1.0
 * @category models
 */
export type Milestone = "qemu spawned" | "guest ready" | "program started" | "program exited" | "qemu exited"

/**
 * What a restorable run needs besides the machine and its consoles.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The key of the machine in the cache of saved machines (`SavedMachines.keyOf`). */
  readonly key: string
  /** The init's part of the run message (`exec`'s description). */
  readonly run: unknown
  /** Boot cold and save nothing. */
  readonly cold: boolean
  /** The runner's notes for `--verbose`. */
  readonly note: (line: string) => Effect.Effect<void>
  /** Called at each milestone as it is reached. */
  readonly mark?: ((milestone: Milestone) => void) | undefined
  /**
   * Runs once the init has taken its run, beside it, until QEMU ends (the
   * session of `shell`: the host's terminal joined to the guest's); not in
   * the boot that only saves the machine.
   */
  readonly whileRunning?: ((vm: Qemu.Vm) => Effect.Effect<void>) | undefined
}

/**
 * How a restorable run went: the guest's ending, and how the machine started.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ending extends Qemu.Ending {
  readonly start: "restored" | "saved and restored" | "cold"
}

const resendEvery = "500 millis"

/** The message of a run, with the host's clock and randomness of the moment it is sent. */
const messageOf = (nonce: string, run: unknown): RunMessage => ({
  nonce,
  time: Date.now(),
  entropy: randomBytes(64).toString("base64"),
  run
})

/** Console 0's lines as they come, with the moments the init reaches its ready point and starts the run. */
const watch = (streams: Qemu.Streams, nonce: string, mark: (milestone: Milestone) => void) =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<void>()
    const started = yield* Deferred.make<void>()
    const console = (line: string) =>
      Effect.suspend(() => {
        if (line === readyLine) {
          mark("guest ready")
          Deferred.doneUnsafe(ready, Effect.void)
        } else if (parseStartedLine(line) === nonce) {
          mark("program started")
          Deferred.doneUnsafe(started, Effect.void)
        } else if (line.startsWith("VIRTRUN_EXIT_CODE: ")) mark("program exited")
        return streams.console(line)
      })
    return { ready, started, console }
  })

/** Sends the run until the init says it has it, then runs what goes beside the run. */
const deliver = (vm: Qemu.Vm, nonce: string, options: Options, started: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    while (!(yield* Deferred.isDone(started))) {
      yield* vm.sendControl(encodeRunMessage(messageOf(nonce, options.run)))
      yield* Effect.timeoutOption(Deferred.await(started), resendEvery)
    }
    if (options.whileRunning !== undefined) yield* options.whileRunning(vm)
  })

/**
 * Runs the machine as described above.
 *
 * @since 0.1.0
 * @category running
 */
export const run = Effect.fn("Restorable.run")(function*(machine: Machine, streams: Qemu.Streams, options: Options) {
  const progress = yield* Progress
  const nonce = randomBytes(8).toString("hex")
  const mark = options.mark ?? (() => undefined)
  const controlled = { ...streams, control: true }

  const cold = Effect.gen(function*() {
    const watched = yield* watch(streams, nonce, mark)
    const ending = yield* Qemu.run(machine, {
      ...controlled,
      console: watched.console,
      onSpawn: () => mark("qemu spawned"),
      onStart: (vm) => Effect.andThen(Deferred.await(watched.ready), deliver(vm, nonce, options, watched.started))
    })
    return { ...ending, start: "cold" } satisfies Ending
  })

  const restore = (entry: SavedMachines.Entry) =>
    Effect.gen(function*() {
      const watched = yield* watch(streams, nonce, mark)
      const socket = qmp()
      const ending = yield* Qemu.run({
        ...machine,
        ramFile: { path: entry.ram, shared: false },
        qmp: socket,
        incoming: true
      }, {
        ...controlled,
        console: watched.console,
        onSpawn: () => mark("qemu spawned"),
        onStart: (vm) =>
          Effect.gen(function*() {
            yield* Qmp.loadState(vm.qmp!, entry.state)
            mark("guest ready")
            yield* deliver(vm, nonce, options, watched.started)
          })
      }).pipe(
        Effect.ensuring(Effect.ignore(Effect.sync(() => rmSocket(socket)))),
        // A QEMU that failed before the guest took its run did not restore (a state it cannot load).
        Effect.catchTag("QemuFailed", (error): Effect.Effect<never, Qemu.QemuFailed | Qmp.QmpError> =>
          Effect.flatMap(
            Deferred.isDone(watched.started),
            (started): Effect.Effect<never, Qemu.QemuFailed | Qmp.QmpError> =>
              started
                ? Effect.fail(error)
                : Effect.fail(new Qmp.QmpError({ command: "restore", reason: error.message }))
          ))
      )
      // A machine that never took its run did not restore; what the run did after is the run's.
      if (!(yield* Deferred.isDone(watched.started))) {
        yield* options.note(`the saved machine ${entry.key} did not take its run`)
        return Option.none<Ending>()
      }
      yield* options.note(`restored the saved machine ${entry.key}`)
      return Option.some<Ending>({ ...ending, start: "restored" })
    }).pipe(
      Effect.catchTag("QmpError", (error) =>
        Effect.as(
          options.note(`the saved machine ${entry.key} did not restore (${error.message}); booting cold`),
          Option.none<Ending>()
        ))
    )

  // Boots up to the ready point and saves the machine there; the boot's own ending when it never got there.
  const save = Effect.scoped(Effect.gen(function*() {
    const target = yield* SavedMachines.prepare(options.key)
    const watched = yield* watch(streams, nonce, () => undefined)
    const socket = qmp()
    let saveMillis = 0
    // The run's timeout is the run's: the boot that makes the saved machine has none.
    const ending = yield* Qemu.run({ ...machine, ramFile: { path: target.ram, shared: true }, qmp: socket }, {
      ...controlled,
      timeout: undefined,
      detached: true,
      console: watched.console,
      onStart: (vm) =>
        Effect.gen(function*() {
          yield* Deferred.await(watched.ready)
          const started = Date.now()
          yield* Qmp.saveState(vm.qmp!, target.state)
          saveMillis = Date.now() - started
          // QEMU answers and exits; its monitor may close before the answer.
          yield* Effect.ignore(vm.qmp!.execute("quit"))
        })
    }).pipe(Effect.ensuring(Effect.ignore(Effect.sync(() => rmSocket(socket)))))
    if (!(yield* Deferred.isDone(watched.ready)) || saveMillis === 0) return { ending, entry: Option.none() }
    yield* options.note(`saved the machine at its ready point in ${saveMillis} ms (${options.key})`)
    yield* progress.stage(`machine: booted and saved in ${((Date.now() - bootStarted) / 1000).toFixed(1)} s`)
    return { ending, entry: Option.some(yield* SavedMachines.publish(target, saveMillis)) }
  }))

  if (options.cold) return yield* cold
  const found = yield* SavedMachines.find(options.key, machine.memory, options.note)
  if (Option.isSome(found)) {
    const restored = yield* restore(found.value)
    if (Option.isSome(restored)) return restored.value
    yield* SavedMachines.remove(options.key)
    return yield* cold
  }
  yield* options.note(`no saved machine ${options.key}: booting it to its ready point to save it`)
  yield* progress.stage("machine: booting it to its ready point and saving it there, once (later runs restore it)")
  const bootStarted = Date.now()
  const saved = yield* save.pipe(
    Effect.catchTag(
      "QmpError",
      (error) => Effect.as(options.note(`the machine could not be saved (${error.message})`), undefined)
    )
  )
  if (saved === undefined) return yield* cold
  if (Option.isNone(saved.entry)) return { ...saved.ending, start: "cold" } satisfies Ending
  const restored = yield* restore(saved.entry.value)
  if (Option.isSome(restored)) return { ...restored.value, start: "saved and restored" } satisfies Ending
  yield* SavedMachines.remove(options.key)
  return yield* cold
})

const rmSocket = (socket: string): void => fs.rmSync(socket, { force: true })

/** A path for a QMP socket of this run's own. */
const qmp = (): string =>
  NodePath.join(os.tmpdir(), `effect-sysinit-qmp-${process.pid}-${randomBytes(6).toString("hex")}`)
