/**
 * Preloaded (`node --import`) by the inits of the docs that
 * test/namespace/docs.test.ts runs as PID 1 of new namespaces: every import
 * of src/kernels/liveKernel.ts, but the one of its stand-in, gets
 * namespaceKernel.ts instead, so `Layer.live` (and so `Init.main`) runs on
 * the live kernel made to look like the runner's VM.
 */
import { registerHooks } from "node:module"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"

const liveKernel = pathToFileURL(Path.resolve(import.meta.dirname, "../../src/kernels/liveKernel.ts")).href
const standIn = pathToFileURL(Path.join(import.meta.dirname, "namespaceKernel.ts")).href

registerHooks({
  resolve: (specifier, context, nextResolve) => {
    const resolved = nextResolve(specifier, context)
    return resolved.url === liveKernel && context.parentURL !== standIn ? { ...resolved, url: standIn } : resolved
  }
})
