/**
 * `effect-sysinit bundle [--out-dir DIR] INIT`: the init as one file (and
 * koffi's binary beside it) for another host, e.g. virtrun.
 *
 * @since 0.1.0
 */
import { Console, Effect, FileSystem, Path } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Bundle from "../image/Bundle.ts"
import { fail } from "./output.ts"

/**
 * The `bundle` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const bundleCommand = Command.make("bundle", {
  init: Argument.File("init", { mustExist: true }).pipe(
    Argument.withDescription("The init: a .ts or .js module that runs Sysinit.run")
  ),
  outDir: Flag.Directory("out-dir").pipe(
    Flag.withDescription("Where to write init.mjs and koffi.node"),
    Flag.withDefault(".")
  )
}, ({ init, outDir }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const bundle = yield* Bundle.bundle(init)
    yield* fs.makeDirectory(outDir, { recursive: true })
    const written = [path.join(outDir, "init.mjs")]
    yield* fs.writeFile(written[0]!, bundle.code, { mode: 0o755 })
    if (bundle.koffiNative !== undefined) {
      written.push(path.join(outDir, Bundle.koffiNativeName))
      yield* fs.copyFile(bundle.koffiNative, written[1]!)
    }
    yield* Console.log(written.join("\n"))
  }).pipe(Effect.catch(fail))).pipe(
    Command.withDescription(
      "Bundle INIT for another host, e.g. virtrun: virtrun -standalone -addFile init.mjs -addFile koffi.node /usr/bin/node /data/init.mjs"
    )
  )
