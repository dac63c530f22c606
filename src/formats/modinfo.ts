/**
 * What a module says about itself in its `.modinfo` ELF section: its name and
 * the modules it needs (`depends=a,b`), names as the kernel spells them.
 */
import { Effect } from "effect"
import * as NodePath from "node:path"
import type { CompressionFormat } from "./decompress.ts"
import * as Elf from "./elf.ts"

export interface ModuleInfo {
  readonly name: string
  readonly depends: ReadonlyArray<string>
}

const moduleFileExtension = /\.ko(\.gz|\.xz|\.zst)?$/
const compressionByExtension: Readonly<Record<string, CompressionFormat>> = {
  ".gz": "gzip",
  ".xz": "xz",
  ".zst": "zstd"
}

/** Whether a file name is that of a kernel module: `.ko`, `.ko.gz`, `.ko.xz` or `.ko.zst`. */
export const isModuleFile = (path: string): boolean => moduleFileExtension.test(path)

/** The compression a module file's name says (`.ko.gz`, `.ko.xz`, `.ko.zst`); none for any other name. */
export const compressionOfFile = (path: string): CompressionFormat | undefined =>
  compressionByExtension[moduleFileExtension.exec(path)?.[1] ?? ""]

/** The kernel's spelling of a module name: `-` becomes `_`, as in /proc/modules. */
export const canonicalName = (name: string): string => name.replaceAll("-", "_")

/** The name the kernel gives a module file that does not say its own name. */
export const nameFromPath = (path: string): string =>
  canonicalName(NodePath.posix.basename(path).replace(moduleFileExtension, ""))

/**
 * `name=` and `depends=` of an uncompressed module image. An image that is
 * not a readable ELF file, or has no `.modinfo`, is named after its file and
 * needs nothing: the kernel is the judge of whether it loads.
 */
export const read = (image: Uint8Array, path: string): Effect.Effect<ModuleInfo> =>
  Elf.readSection(Elf.fromBytes(image), ".modinfo").pipe(
    Effect.map((section) => {
      const fields = section === undefined ? [] : Elf.parseModinfo(section)
      const name = fields.find(([key]) => key === "name")?.[1]
      const depends = fields.filter(([key]) => key === "depends").flatMap(([, value]) => value.split(","))
      return {
        name: name === undefined || name === "" ? nameFromPath(path) : canonicalName(name),
        depends: depends.filter((dep) => dep !== "").map(canonicalName)
      }
    }),
    Effect.catchTag("ElfError", () => Effect.succeed({ name: nameFromPath(path), depends: [] }))
  )
