// Configuration 1's init on a live machine whose every call is timed, for
// `node bench/main.ts --n 1 --configs sysinit --init bench/inits/traced.ts --verbose`:
// shows which calls of the kernel (Syscalls) and of the Node process
// (NodeProcess) the setup spends its time in. With --trace-gc, V8
// logs each garbage collection; with --time-layers, the build of each of
// Node's platform layers is timed first.
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as NodeStdio from "@effect/platform-node/NodeStdio"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Effect, Layer } from "effect"
import { HostPipe, Mount, Network, Symlink, Sysinit } from "effect-sysinit"
import * as v8 from "node:v8"
import * as LiveKernel from "../../src/kernels/liveKernel.ts"
import * as LiveProcess from "../../src/kernels/liveProcess.ts"
import { NodeProcess } from "../../src/NodeProcess.ts"
import { Syscalls } from "../../src/Syscalls.ts"
import { bundleStarted } from "./bundleStarted.ts"
import { flush, mark, now } from "./marks.ts"

const timed = (name: string, effect: Effect.Effect<unknown, unknown, unknown>, detail: unknown) =>
  Effect.suspend(() => {
    const started = now()
    return Effect.ensuring(
      effect,
      Effect.sync(() =>
        mark(`call:${name}(${String(detail ?? "").replaceAll(" ", "_")}):${(now() - started).toFixed(1)}`, started)
      )
    )
  })

/** The service with each of its calls timed, under the service's name. */
const traced = <Shape extends object>(service: string, shape: Shape): Shape =>
  Object.fromEntries(
    Object.entries(shape).map(([name, value]) => [
      name,
      Effect.isEffect(value)
        ? timed(`${service}.${name}`, value, "")
        : (...args: Array<unknown>) => {
          const first = args[0]
          const detail = typeof first === "object" && first !== null && "target" in first ? first.target : first
          return timed(
            `${service}.${name}`,
            (value as (...a: Array<unknown>) => Effect.Effect<unknown>)(...args),
            detail
          )
        }
    ])
  ) as Shape

const live = Layer.merge(
  Layer.effect(
    Syscalls,
    Effect.sync(() => mark("layer-build-started")).pipe(
      Effect.andThen(LiveKernel.make),
      Effect.map((kernel) => traced("Syscalls", kernel)),
      Effect.tap(() => Effect.sync(() => mark("layer-built")))
    )
  ),
  Layer.sync(NodeProcess, () => traced("NodeProcess", LiveProcess.make()))
)

mark("node-started", bundleStarted.node)
mark("bundle-started", bundleStarted.bundle)
mark("init-code")
if (process.argv.includes("--trace-gc")) v8.setFlagsFromString("--trace-gc")
const nodeServices = Layer.effectDiscard(Effect.sync(() => mark("node-services-built"))).pipe(
  Layer.provideMerge(NodeServices.layer)
)
if (process.argv.includes("--time-layers")) {
  const layers = [
    ["fs", NodeFileSystem.layer],
    ["path", NodePath.layer],
    ["stdio", NodeStdio.layer],
    ["terminal", NodeTerminal.layer],
    ["spawner", NodeChildProcessSpawner.layer.pipe(Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))]
  ] as const
  Effect.runFork(Effect.scoped(Effect.forEach(layers, ([name, layer]) =>
    Effect.sync(() => mark(`${name}-start`)).pipe(
      Effect.andThen(Layer.build(layer as Layer.Layer<unknown>)),
      Effect.andThen(Effect.sync(() => mark(`${name}-built`)))
    ))))
}
Effect.runFork(
  Sysinit.run(
    Effect.addFinalizer(() => Effect.sync(() => (mark("finalizers-done"), flush()))),
    Effect.sync(() => mark("essential-mounts-done")),
    Mount.withMountPoints(Mount.systemMountPoints()),
    Effect.sync(() => mark("system-mounts-done")),
    Symlink.createSymlinks(Symlink.devSymlinks()),
    Effect.sync(() => mark("dev-links-done")),
    Network.setInterfaceUp("lo"),
    Effect.sync(() => mark("lo-up-done")),
    HostPipe.withStdoutHostPipe,
    Effect.sync(() => mark("stdout-pipe-done")),
    Effect.sync(() => console.log("hello from a fresh VM")),
    Sysinit.setExitCode(0),
    Effect.sync(() => mark(`main-done:${process.getActiveResourcesInfo().join(",")}`))
  ).pipe(Effect.provide(live), Effect.provide(nodeServices)) as unknown as Effect.Effect<void>
)
