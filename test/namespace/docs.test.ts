/**
 * The inits among the docs' examples (those of src/*.ts, README.md and
 * docs/*.md that call `Init.main(With)` or `Sysinit.run(With)`, extracted by
 * test/docs/extract.ts), each run unchanged as PID 1 of fresh namespaces, on
 * the live kernel made to look like the runner's VM
 * (test/docs/namespaceKernel.ts: devtmpfs as a tmpfs, consoles 0 and 1,
 * console 1 on stdout, no modules). Each must report exit code 0 and log no
 * error. The unit tier type-checks them, with the other examples.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { describeRun, linesOf, nodeEnv, prepare } from "../docs/extract.ts"
import { runAsPidOne, userNamespaces } from "./harness.ts"

const inits = prepare().filter((example) => example.kind === "init")
const hooks = Path.resolve(import.meta.dirname, "../docs/namespaceHooks.ts")

describe.skipIf(!userNamespaces.available)("the docs' inits, as PID 1 of new namespaces", () => {
  it("are found", () => {
    assert.isAbove(inits.length, 0)
  })

  for (const example of inits) {
    it.effect(`${example.name}: exit code 0, no error logged, poweroff`, () =>
      Effect.map(
        runAsPidOne(example.file, [], {
          env: { ...nodeEnv, NODE_OPTIONS: `--conditions=source --import="${hooks}"` }
        }),
        (run) => {
          const why = describeRun(example, run)
          const stderr = linesOf(run.stderr)
          assert.strictEqual(stderr.at(-1), "VIRTRUN_EXIT_CODE: 0", why)
          assert.deepStrictEqual(stderr.filter((line) => / ERROR /.test(line)), [], why)
          // A restart of the machine ends a PID namespace's PID 1 with SIGHUP.
          assert.deepStrictEqual(
            { signal: run.signal, exitCode: run.exitCode },
            { signal: "SIGHUP", exitCode: null },
            why
          )
          if (example.prints !== undefined) assert.deepStrictEqual(linesOf(run.stdout), example.prints, why)
        }
      ))
  }
})
