/**
 * The QMP client against a monitor of the test's own (a unix socket that
 * answers as QEMU does): the greeting and command mode, answers in order
 * with events skipped, a command QEMU refuses, a monitor that closed; and
 * how a save and a load end for each status QEMU reports. Save and load
 * against the fake QEMU are execWithFakeQemu.test.ts's.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Qmp from "../../../src/runner/restore/Qmp.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-sysinit-qmp-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

let sockets = 0

type Answer = unknown | ((count: number) => unknown)

/**
 * A monitor that greets, then answers each command by `answers` (a value,
 * or by how many times the command came); `"close"` closes the monitor.
 * What it was asked, in order, is `asked`.
 */
const monitor = (answers: Readonly<Record<string, Answer>>) =>
  Effect.acquireRelease(
    Effect.callback<{
      readonly path: string
      readonly asked: Array<string>
      readonly uris: Array<string>
      readonly server: net.Server
    }>(
      (resume) => {
        const socket = path.join(work, `qmp${++sockets}.sock`)
        const asked: Array<string> = []
        const uris: Array<string> = []
        const counts = new Map<string, number>()
        const server = net.createServer((connection) => {
          connection.write(`${JSON.stringify({ QMP: { version: {}, capabilities: [] } })}\n`)
          let buffered = ""
          connection.on("data", (chunk) => {
            buffered += chunk.toString()
            for (let at = buffered.indexOf("\n"); at !== -1; at = buffered.indexOf("\n")) {
              const request = JSON.parse(buffered.slice(0, at)) as {
                readonly execute: string
                readonly arguments?: { readonly uri?: string }
              }
              buffered = buffered.slice(at + 1)
              asked.push(request.execute)
              if (request.arguments?.uri !== undefined) uris.push(request.arguments.uri)
              const count = (counts.get(request.execute) ?? 0) + 1
              counts.set(request.execute, count)
              const answer = answers[request.execute] ?? { return: {} }
              const reply = typeof answer === "function" ? answer(count) : answer
              if (reply === "close") connection.destroy()
              // An event first, as QEMU sends them between answers.
              else connection.write(`{"event": "RESUME"}\n${JSON.stringify(reply)}\n`)
            }
          })
        })
        server.listen(socket, () => resume(Effect.succeed({ path: socket, asked, uris, server })))
      }
    ),
    ({ server }) => Effect.sync(() => server.close())
  )

const withClient = <A, E>(
  answers: Readonly<Record<string, Answer>>,
  use: (client: Qmp.Client, asked: Array<string>, uris: Array<string>) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const { asked, path: socket, uris } = yield* monitor(answers)
    const client = yield* Qmp.connect(socket)
    return yield* use(client, asked, uris)
  }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

describe("the QMP client", () => {
  it.live("greets, enters command mode, and gives each command its own answer, past the events", () =>
    withClient({ "query-status": { return: { status: "running" } }, "query-name": { return: { name: "vm" } } }, (
      client,
      asked
    ) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* client.execute("query-status"), { status: "running" })
        assert.deepStrictEqual(yield* client.execute("query-name"), { name: "vm" })
        assert.deepStrictEqual(asked, ["qmp_capabilities", "query-status", "query-name"])
      })))

  it.live("fails a command QEMU refuses with what QEMU said, or that it failed", () =>
    withClient({
      stop: { error: { class: "GenericError", desc: "the guest is not running" } },
      cont: { error: { class: "GenericError" } }
    }, (client) =>
      Effect.gen(function*() {
        assert.strictEqual(
          (yield* Effect.flip(client.execute("stop"))).message,
          "QEMU's monitor: stop: the guest is not running"
        )
        assert.strictEqual((yield* Effect.flip(client.execute("cont"))).message, "QEMU's monitor: cont: failed")
      })))

  it.live("fails the command QEMU closed its monitor on, and every one after", () =>
    withClient({ quit: "close" }, (client) =>
      Effect.gen(function*() {
        assert.strictEqual(
          (yield* Effect.flip(client.execute("quit"))).message,
          "QEMU's monitor: quit: QEMU closed its monitor"
        )
        assert.strictEqual(
          (yield* Effect.flip(client.execute("query-status"))).message,
          "QEMU's monitor: query-status: QEMU closed its monitor"
        )
      })))

  const saves: ReadonlyArray<readonly [string, string, string | undefined]> = [
    ["completed", "completed", undefined],
    ["failed", "failed", "QEMU's monitor: migrate: the save ended failed"],
    ["cancelled", "cancelled", "QEMU's monitor: migrate: the save ended cancelled"]
  ]
  for (const [name, status, failure] of saves) {
    it.live(`a save stops the guest, writes its state to the file and waits: ${name}`, () =>
      withClient(
        { "query-migrate": (count: number) => ({ return: { status: count < 3 ? "active" : status } }) },
        (client, asked, uris) =>
          Effect.gen(function*() {
            const save = Qmp.saveState(client, "/saved/it's state")
            if (failure === undefined) yield* save
            else assert.strictEqual((yield* Effect.flip(save)).message, failure)
            assert.deepStrictEqual(uris, ["exec:cat > '/saved/it'\\''s state'"], "QEMU writes the state to the file")
            assert.deepStrictEqual(asked.slice(0, 4), [
              "qmp_capabilities",
              "stop",
              "migrate-set-capabilities",
              "migrate"
            ])
            assert.strictEqual(asked.filter((command) => command === "query-migrate").length, 3, "asked until it ended")
          })
      ))
  }

  const loads: ReadonlyArray<readonly [string, string, ReadonlyArray<string>, string | undefined]> = [
    ["paused: then it goes on", "paused", ["cont"], undefined],
    ["postmigrate: then it goes on", "postmigrate", ["cont"], undefined],
    ["running already", "running", [], undefined],
    ["anything else fails", "shutdown", [], "QEMU's monitor: migrate-incoming: the guest is shutdown after the load"]
  ]
  for (const [name, status, after, failure] of loads) {
    it.live(`a load takes the state from the file and reports the guest: ${name}`, () =>
      withClient(
        { "query-status": (count: number) => ({ return: { status: count < 2 ? "inmigrate" : status } }) },
        (client, asked, uris) =>
          Effect.gen(function*() {
            const load = Qmp.loadState(client, "/saved/state")
            if (failure === undefined) yield* load
            else assert.strictEqual((yield* Effect.flip(load)).message, failure)
            assert.deepStrictEqual(uris, ["exec:cat '/saved/state'"], "QEMU reads the state from the file")
            assert.deepStrictEqual(asked, [
              "qmp_capabilities",
              "migrate-set-capabilities",
              "migrate-incoming",
              "query-status",
              "query-status",
              ...after
            ])
          })
      ))
  }
})
