import * as os from "node:os"
import * as util from "node:util"

/** The name of an errno constant known to this platform, e.g. `"ENODEV"`. */
export type ErrnoName = keyof typeof os.constants.errno

const numbers: Readonly<Record<string, number>> = os.constants.errno
// Linux gives some numbers two names; these are the ones its man pages use.
const preferred: ReadonlyArray<ErrnoName> = ["EAGAIN", "EOPNOTSUPP", "EDEADLK"]
const names = new Map<number, ErrnoName>()
for (const [name, number] of Object.entries(numbers) as Array<[ErrnoName, number]>) {
  if (!names.has(number) || preferred.includes(name)) names.set(number, name)
}

export const isErrnoName = (name: string): name is ErrnoName => Object.hasOwn(numbers, name)

export const errnoNumber = (name: ErrnoName): number => numbers[name]!

export const errnoName = (errno: number): ErrnoName | undefined => names.get(Math.abs(errno))

export const errnoDescription = (errno: number): string => util.getSystemErrorMessage(-Math.abs(errno))
