import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FileSystem, Scope } from "effect"
import * as fs from "node:fs"
import * as AnonymousFile from "../../../src/runner/machine/anonymousFile.ts"

describe("anonymous temporary files", () => {
  it.effect("leave no name in the temporary directory, are reached through /proc while open, and go with the scope", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const dir = yield* fileSystem.makeTempDirectoryScoped()
      const saved = process.env["TMPDIR"]
      process.env["TMPDIR"] = dir
      const scope = yield* Scope.make()
      const file = yield* AnonymousFile.make.pipe(
        Scope.provide(scope),
        Effect.ensuring(
          Effect.sync(() => void (saved === undefined ? delete process.env["TMPDIR"] : (process.env["TMPDIR"] = saved)))
        )
      )
      assert.match(file.path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`))
      assert.deepStrictEqual(fs.readdirSync(dir), [])
      yield* fileSystem.writeFileString(file.path, "written through the path")
      assert.strictEqual(yield* fileSystem.readFileString(file.path), "written through the path")
      assert.deepStrictEqual(fs.readdirSync(dir), [])
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(fs.existsSync(file.path) && fs.readlinkSync(file.path).includes(dir))
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("anonymous temporary files where the file system has no O_TMPFILE", () => {
  it.effect("are made under a name that is removed at once, leaving nothing in the directory", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const dir = yield* fileSystem.makeTempDirectoryScoped()
      const fd = AnonymousFile.openNamedThenUnlinked(dir)
      try {
        assert.deepStrictEqual(fs.readdirSync(dir), [])
        fs.writeSync(fd, "kept while open")
        assert.strictEqual(fs.readFileSync(`/proc/self/fd/${fd}`, "utf8"), "kept while open")
        assert.strictEqual(fs.fstatSync(fd).nlink, 0, "no name anywhere")
      } finally {
        fs.closeSync(fd)
      }
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("fail with the directory named when none can be made there", () =>
    Effect.gen(function*() {
      const saved = process.env["TMPDIR"]
      process.env["TMPDIR"] = "/nonexistent/tmp"
      const error = yield* Effect.flip(Effect.scoped(AnonymousFile.make)).pipe(
        Effect.ensuring(
          Effect.sync(() => void (saved === undefined ? delete process.env["TMPDIR"] : (process.env["TMPDIR"] = saved)))
        )
      )
      assert.instanceOf(error, AnonymousFile.TemporaryFileError)
      assert.match(error.message, /^cannot make a temporary file in \/nonexistent\/tmp: ENOENT/)
    }))
})
