/**
 * The runner's entry: the `effect-sysinit` command on this process's
 * arguments, with Node's platform services. `bin/effect-sysinit` imports
 * the build of this module.
 *
 * @since 0.1.0
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { main, runMain } from "./main.ts"

main.pipe(Effect.provide(NodeServices.layer), runMain)
