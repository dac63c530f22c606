/**
 * What a kernel image file is: one QEMU boots for an architecture (an x86
 * bzImage, an ELF vmlinux with a PVH entry, an arm64 Image), read from its
 * header without booting it.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option } from "effect"
import * as Elf from "../../formats/elf.ts"
import * as Architecture from "../machine/Architecture.ts"

const XEN_ELFNOTE_PHYS32_ENTRY = 18

/**
 * Whether QEMU can boot the file as an uncompressed kernel through its PVH
 * entry point, which skips the firmware's setup and the kernel's
 * self-decompression (seconds under TCG).
 *
 * @since 0.1.0
 * @category checks
 */
export const isPvhKernel = Effect.fn("KernelImage.isPvhKernel")(function*(image: string) {
  const fs = yield* FileSystem.FileSystem
  return yield* Effect.scoped(Effect.flatMap(fs.open(image), (file) => Elf.readNotes(Elf.fromFile(file)))).pipe(
    Effect.map((notes) => notes.some((note) => note.name === "Xen" && note.type === XEN_ELFNOTE_PHYS32_ENTRY)),
    Effect.orElseSucceed(() => false)
  )
})

const imageMagic: Readonly<Record<Architecture.Architecture, { readonly offset: number; readonly magic: string }>> = {
  // The setup header of a bzImage.
  x86_64: { offset: 0x202, magic: "HdrS" },
  // The header of an arm64 Image (Debian's vmlinuz is one, with a PE header for EFI in front).
  aarch64: { offset: 0x38, magic: "ARMd" }
}

/**
 * Whether the file is a kernel image QEMU can boot for the architecture: an
 * x86 bzImage (its setup header says "HdrS" at offset 0x202) or an ELF
 * vmlinux with a PVH entry point; an arm64 Image ("ARMd" at offset 0x38).
 *
 * @since 0.1.0
 * @category checks
 */
export const isKernelImage = Effect.fn("KernelImage.isKernelImage")(function*(
  image: string,
  arch: Architecture.Facts = Architecture.all.x86_64
) {
  const fs = yield* FileSystem.FileSystem
  const { magic, offset } = imageMagic[arch.name]
  const found = yield* Effect.scoped(
    Effect.flatMap(fs.open(image), (file) => file.readAlloc(magic.length, { position: BigInt(offset) }))
  ).pipe(Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))
  if (found !== undefined && new TextDecoder().decode(found) === magic) return true
  return arch.name === "x86_64" && (yield* isPvhKernel(image))
})

/**
 * What a kernel image of the architecture is, for a refusal's fix.
 *
 * @since 0.1.0
 * @category constants
 */
export const imageHint: Readonly<Record<Architecture.Architecture, string>> = {
  x86_64: `an x86 bzImage (e.g. /boot/vmlinuz-*; "HdrS" at offset 0x202) or an ELF vmlinux with a PVH entry point`,
  aarch64: `an arm64 Image (e.g. Debian's /boot/vmlinuz-*-arm64; "ARMd" at offset 0x38)`
}
