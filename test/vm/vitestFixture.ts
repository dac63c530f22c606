// The vitest pool's fixture project (test/fixtures/vitest-pool), run by the
// VM tier's pool tests with vitest's own binary, and the part of vitest's
// JSON report they read.
import { join } from "node:path"

export const fixture = join(import.meta.dirname, "../fixtures/vitest-pool")
export const vitestBin = join(import.meta.dirname, "../../node_modules/vitest/vitest.mjs")

export interface JsonReport {
  readonly testResults: ReadonlyArray<{
    readonly name: string
    readonly status: string
    readonly message?: string
    readonly assertionResults: ReadonlyArray<{
      readonly title: string
      readonly status: string
      readonly failureMessages: ReadonlyArray<string>
    }>
  }>
}
