import { assert } from "@effect/vitest"
import * as Cpio from "../../../src/formats/cpio.ts"

export interface Entry {
  readonly name: string
  readonly mode: number
  readonly nlink: number
  readonly rdev: readonly [number, number]
  readonly data: Uint8Array
}

/** A reader of "newc" archives that checks the magic and the 4-byte alignment of every part. */
export const readArchive = (archive: Uint8Array): Array<Entry> => {
  const entries: Array<Entry> = []
  const text = new TextDecoder()
  let offset = 0
  for (;;) {
    assert.strictEqual(offset % 4, 0)
    const header = text.decode(archive.subarray(offset, offset + 110))
    assert.strictEqual(header.slice(0, 6), "070701")
    const field = (i: number) => parseInt(header.slice(6 + i * 8, 14 + i * 8), 16)
    const nameSize = field(11)
    const fileSize = field(6)
    const nameStart = offset + 110
    const name = text.decode(archive.subarray(nameStart, nameStart + nameSize - 1))
    assert.strictEqual(archive[nameStart + nameSize - 1], 0)
    let dataStart = nameStart + nameSize
    dataStart += (4 - (dataStart % 4)) % 4
    const data = archive.subarray(dataStart, dataStart + fileSize)
    offset = dataStart + fileSize
    offset += (4 - (offset % 4)) % 4
    if (name === Cpio.TRAILER_NAME) {
      assert.strictEqual(offset, archive.length)
      return entries
    }
    entries.push({ name, mode: field(1), nlink: field(4), rdev: [field(9), field(10)], data })
  }
}
