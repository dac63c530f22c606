/**
 * The contract of `NodeProcess` where both fakes answer with an errno or a
 * value: setenv(3)'s refusals, a child that cannot start, and the children
 * Node spawned. Run as
 * `syscalls.ts` is: on `Layer.memory()` in the unit tier, on `Layer.live` as
 * PID 1 in the namespace tier, and, the cases marked `onHost`, on
 * `Layer.live` in the unit tier's own process.
 */
import { Effect } from "effect"
import { NodeProcess } from "../../src/NodeProcess.ts"
import { type ContractCase, fails, succeeds } from "./outcome.ts"

const setEnv = (name: string, value: string) => NodeProcess.use((nodeProcess) => nodeProcess.setEnv(name, value))

/** The table. */
export const nodeProcessContract: ReadonlyArray<ContractCase<NodeProcess>> = [
  {
    name: "setEnv of a variable is taken",
    onHost: true,
    run: setEnv("SYSINIT_CONTRACT", "a value with spaces = and all"),
    expected: succeeds()
  },
  {
    name: "setEnv of an empty name is EINVAL",
    onHost: true,
    run: setEnv("", "x"),
    expected: fails("setenv", "EINVAL", "")
  },
  {
    name: "setEnv of a name holding '=' is EINVAL",
    onHost: true,
    run: setEnv("A=B", "x"),
    expected: fails("setenv", "EINVAL", "A=B")
  },
  {
    name: "setEnv of a name holding NUL is EINVAL",
    onHost: true,
    run: setEnv("A\0B", "x"),
    expected: fails("setenv", "EINVAL", "A\0B")
  },
  {
    name: "setEnv of a value holding NUL is EINVAL",
    onHost: true,
    run: setEnv("SYSINIT_NUL", "a\0b"),
    expected: fails("setenv", "EINVAL", "SYSINIT_NUL")
  },
  {
    name: "runChild of a program that does not exist is ENOENT",
    onHost: true,
    run: NodeProcess.use((nodeProcess) =>
      nodeProcess.runChild({ command: "/nonexistent/program", args: [], stdout: 1, stderr: 2 })
    ),
    expected: fails("spawn", "ENOENT", "/nonexistent/program")
  },
  {
    name: "a process that spawned nothing has no children of Node's",
    onHost: true,
    run: NodeProcess.use((nodeProcess) => Effect.map(nodeProcess.spawnedChildren, (pids) => [...pids])),
    expected: succeeds([])
  }
]
