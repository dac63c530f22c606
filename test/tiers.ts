/**
 * The order in which `npm test` starts its files: the VM tier first, then
 * the namespace tier, then the unit tier, each in vitest's own order
 * (longest first by the last run's times, else largest first). A VM file
 * takes tens of seconds of QEMU; started first, the VM files run side by
 * side and the short files of the other tiers fill the lanes as they free
 * up, instead of a VM file starting last and running on alone.
 */
import { BaseSequencer, type TestSpecification } from "vitest/node"

const tierOrder: Readonly<Record<string, number>> = { vm: 0, namespace: 1, unit: 2 }

const orderOf = (spec: TestSpecification): number => tierOrder[spec.project.name] ?? 1

export class TiersSequencer extends BaseSequencer {
  override async sort(files: Array<TestSpecification>): Promise<Array<TestSpecification>> {
    // A stable sort: within a tier, vitest's order stays.
    return (await super.sort(files)).toSorted((a, b) => orderOf(a) - orderOf(b))
  }
}
