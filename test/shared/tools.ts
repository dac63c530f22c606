/**
 * Whether the host has a program that a test needs. A test that needs a
 * missing program is skipped, loudly; in CI every such program is installed,
 * and .ci/run fails on any skipped test.
 */
import { execFileSync } from "node:child_process"

/** Whether `tool --version` runs here. */
export const hasTool = (tool: string): boolean => {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}
