/**
 * What the init's `process.exit` throws after reporting the call, so that
 * the code after it does not run: a step that calls it ends as if it failed
 * with `ProcessExitCalled`, not as a panic.
 */
export class ExitRequest extends Error {
  readonly code: number
  constructor(code: number) {
    super(`process.exit(${code}) was called; the init ends the run instead`)
    this.name = "ExitRequest"
    this.code = code
  }
}
