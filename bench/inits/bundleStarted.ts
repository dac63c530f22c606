// Imported first, so that it runs before the modules the init imports. A
// binding, not a bare import: the package has "sideEffects": false, and
// esbuild drops bare imports of such files.
import { nodeStarted, now } from "./marks.ts"

export const bundleStarted = { node: nodeStarted(), bundle: now() }
