/**
 * Node's platform services for the init's steps, as `NodeServices.layer`
 * gives them, except that the Terminal is made on first use: making it opens
 * `process.stdin` and sets up readline, some 60 ms of every TCG boot, for a
 * service an init seldom uses.
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import type * as NodeServices from "@effect/platform-node/NodeServices"
import * as NodeStdio from "@effect/platform-node/NodeStdio"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Effect, Layer, Scope, Terminal } from "effect"

/** A Terminal that makes Node's on first use, in the scope of the layer. */
export const lazyTerminal: Layer.Layer<Terminal.Terminal> = Layer.effect(
  Terminal.Terminal,
  Effect.gen(function*() {
    const scope = yield* Scope.Scope
    const terminal = yield* Effect.cached(Scope.provide(scope)(NodeTerminal.make()))
    return Terminal.make({
      columns: Effect.flatMap(terminal, (made) => made.columns),
      rows: Effect.flatMap(terminal, (made) => made.rows),
      size: Effect.flatMap(terminal, (made) => made.size),
      readInput: Effect.flatMap(terminal, (made) => made.readInput),
      readLine: Effect.flatMap(terminal, (made) => made.readLine),
      display: (text) => Effect.flatMap(terminal, (made) => made.display(text))
    })
  })
)

/** `NodeServices.layer` with `lazyTerminal`. */
export const layer: Layer.Layer<NodeServices.NodeServices> = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeStdio.layer, lazyTerminal)
)
