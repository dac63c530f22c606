// The runner as one built JavaScript file, kept fresh by content: a clone
// runs `src/runner/cli/start.ts` bundled (node loads one file, with its
// compile cache, instead of parsing a hundred TypeScript sources), rebuilt
// whenever a source, package.json or package-lock.json changes. Plain
// JavaScript, run by any node before it checks the version.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

const sourceFiles = (root) =>
  fs.readdirSync(path.join(root, "src"), { recursive: true })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => path.join("src", name))
    .toSorted()

/** A hash of everything the build is made from. */
export const sourceKey = (root) => {
  const hash = createHash("sha256")
  for (const file of ["package.json", "package-lock.json", "bin/build-runner.mjs", ...sourceFiles(root)]) {
    const full = path.join(root, file)
    if (!fs.existsSync(full)) continue
    hash.update(`${file}\0`).update(fs.readFileSync(full)).update("\0")
  }
  return hash.digest("hex").slice(0, 24)
}

/** Bundles the runner into `outfile`, written whole (a temporary name, then renamed). */
export const build = async (root, outfile) => {
  const esbuild = await import("esbuild")
  const partial = `${outfile}.${process.pid}.partial`
  await esbuild.build({
    entryPoints: [path.join(root, "src/runner/cli/start.ts")],
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    conditions: ["source"],
    // esbuild itself is loaded when an init is bundled, from the package's node_modules.
    external: ["esbuild"],
    // The runner finds its package's files from here (src/runner/packageFiles.ts), wherever the build is.
    define: { "import.meta.url": JSON.stringify(pathToFileURL(path.join(root, "src/runner/packageFiles.ts")).href) },
    banner: {
      js:
        `import { createRequire as __runnerCreateRequire } from "node:module";\nconst require = __runnerCreateRequire(import.meta.url);`
    },
    outfile: partial,
    logLevel: "warning"
  })
  fs.renameSync(partial, outfile)
}

const keptBuilds = 3
const hourMs = 60 * 60 * 1000

/**
 * Removes what earlier builds left: all but the newest few builds (a run
 * that started a moment ago may still be loading one of those), and
 * partial files of builds that were killed an hour ago or more.
 */
export const removeOldBuilds = (dir) => {
  const entries = fs.readdirSync(dir)
    .filter((name) => name.startsWith("runner-"))
    .map((name) => ({ name, mtimeMs: fs.statSync(path.join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
  const builds = entries.filter(({ name }) => name.endsWith(".mjs")).toSorted((a, b) => b.mtimeMs - a.mtimeMs)
  const partials = entries.filter(({ name, mtimeMs }) => name.endsWith(".partial") && Date.now() - mtimeMs > hourMs)
  for (const { name } of [...builds.slice(keptBuilds), ...partials]) fs.rmSync(path.join(dir, name), { force: true })
}

/**
 * The build of the clone's sources: in node_modules/.cache/effect-sysinit,
 * made now when there is none for these sources. Runs that start together
 * on new sources each build and rename their build into place: the same
 * bytes, whichever lands last.
 */
export const freshBuild = async (root) => {
  const dir = path.join(root, "node_modules", ".cache", "effect-sysinit")
  const file = path.join(dir, `runner-${sourceKey(root)}.mjs`)
  if (fs.existsSync(file)) return file
  fs.mkdirSync(dir, { recursive: true })
  await build(root, file)
  removeOldBuilds(dir)
  return file
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // `node bin/build-runner.mjs OUT`: the build for a package (dist/runner.mjs).
  await build(path.resolve(import.meta.dirname, ".."), path.resolve(process.argv[2] ?? "dist/runner.mjs"))
}
