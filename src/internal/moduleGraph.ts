/**
 * The order in which to load a set of modules: each after the modules of the
 * set it depends on, otherwise in the order given.
 */

export interface ModuleNode {
  readonly name: string
  readonly depends: ReadonlyArray<string>
}

export type LoadOrder =
  /** Indices into the modules given, dependencies first. */
  | { readonly _tag: "Ordered"; readonly order: ReadonlyArray<number> }
  /** The first module, in the order given, that needs modules neither in the set nor satisfied. */
  | { readonly _tag: "Missing"; readonly index: number; readonly missing: ReadonlyArray<string> }
  /** Module names around a cycle, the first repeated at the end. */
  | { readonly _tag: "Cycle"; readonly cycle: ReadonlyArray<string> }

/**
 * Orders `modules` so that each comes after those of the set it depends on.
 * A dependency outside the set must be in `satisfied` (loaded or built in).
 */
export const loadOrder = (modules: ReadonlyArray<ModuleNode>, satisfied: ReadonlySet<string>): LoadOrder => {
  const indexByName = new Map<string, number>()
  modules.forEach((module, index) => {
    if (!indexByName.has(module.name)) indexByName.set(module.name, index)
  })

  for (const [index, module] of modules.entries()) {
    const missing = module.depends.filter((dep) => !indexByName.has(dep) && !satisfied.has(dep))
    if (missing.length > 0) return { _tag: "Missing", index, missing }
  }

  const done = new Set<number>()
  const path: Array<number> = []
  const order: Array<number> = []
  const visit = (index: number): ReadonlyArray<string> | undefined => {
    if (done.has(index)) return undefined
    const onPath = path.indexOf(index)
    if (onPath !== -1) return [...path.slice(onPath), index].map((i) => modules[i]!.name)
    path.push(index)
    for (const dep of modules[index]!.depends) {
      const depIndex = indexByName.get(dep)
      const cycle = depIndex === undefined ? undefined : visit(depIndex)
      if (cycle !== undefined) return cycle
    }
    path.pop()
    done.add(index)
    order.push(index)
    return undefined
  }

  for (const index of modules.keys()) {
    const cycle = visit(index)
    if (cycle !== undefined) return { _tag: "Cycle", cycle }
  }
  return { _tag: "Ordered", order }
}
