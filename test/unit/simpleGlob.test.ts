import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import * as SimpleGlob from "../../src/kernels/simpleGlob.ts"

describe("the simple glob of the live kernel", () => {
  const root = fs.mkdtempSync(NodePath.join(os.tmpdir(), "simple-glob-"))
  for (const file of ["modules/a.ko", "modules/b.ko", "modules/c.txt", "modules/.hidden.ko", "ports/vport0p1"]) {
    fs.mkdirSync(NodePath.dirname(NodePath.join(root, file)), { recursive: true })
    fs.writeFileSync(NodePath.join(root, file), "")
  }

  const cases: ReadonlyArray<readonly [string, string]> = [
    ["a star in the last segment", "modules/*.ko"],
    ["a star in a middle segment", "*/vport*"],
    ["a question mark", "modules/?.ko"],
    ["a character class", "modules/[ab].ko"],
    ["a negated character class", "modules/[!a].*"],
    ["a literal path", "modules/a.ko"],
    ["a literal path that does not exist", "modules/missing.ko"],
    ["a directory that does not exist", "nowhere/*"],
    ["a dot segment", "modules/.*"]
  ]
  for (const [name, pattern] of cases) {
    it(`matches what fs.globSync matches: ${name}`, () => {
      const absolute = NodePath.join(root, pattern)
      assert.isTrue(SimpleGlob.isSimple(absolute))
      assert.deepStrictEqual(SimpleGlob.globSync(absolute), fs.globSync(absolute).toSorted())
    })
  }

  it("leaves globstar, braces and extglobs to fs.globSync", () => {
    for (const pattern of ["/a/**/b", "/a/{b,c}", "/a/!(b)", "/a/@(b)", "/a/\\*"]) {
      assert.isFalse(SimpleGlob.isSimple(pattern), pattern)
    }
  })
})
