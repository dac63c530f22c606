/**
 * The `NodeProcess` fake over an in-memory machine: signals and process
 * faults that a test raises, the children it says Node spawned, stdout and
 * stderr kept in the machine's state.
 */
import { Effect } from "effect"
import { scopedQueue } from "../internal/scopedQueue.ts"
import type { NodeProcessShape, ProcessFault, SignalName } from "../NodeProcess.ts"
import type { MemoryMachine } from "./memoryKernel.ts"
import { KernelFault, type Recorder } from "./memoryRecorder.ts"

/** What a test does to the process from outside. */
export interface ProcessDriver {
  /** Sends a signal; like the kernel for PID 1, drops it when nothing handles it. Returns whether it was handled. */
  readonly raise: (signal: SignalName) => boolean
  /** Makes the process do what `processFaults` catches. */
  readonly processFault: (fault: ProcessFault) => void
}

export const make = (machine: MemoryMachine, recorder: Recorder): [NodeProcessShape, ProcessDriver] => {
  const signalHandlers = new Set<{ names: ReadonlyArray<SignalName>; push: (signal: SignalName) => void }>()
  const faultHandlers = new Set<(fault: ProcessFault) => void>()
  const nodeProcess: NodeProcessShape = {
    getEnv: (name) => recorder.total("getEnv", () => machine.env.get(name)),
    setEnv: (name, value) => recorder.call("setEnv", "setenv", name, () => machine.setEnv(name, value)),
    signals: (names) =>
      Effect.andThen(
        recorder.total("signals", () => undefined),
        scopedQueue<SignalName>((push) => {
          const handler = { names, push }
          signalHandlers.add(handler)
          return () => signalHandlers.delete(handler)
        })
      ),
    processFaults: Effect.andThen(
      recorder.total("processFaults", () => undefined),
      scopedQueue<ProcessFault>((push) => {
        faultHandlers.add(push)
        return () => faultHandlers.delete(push)
      })
    ),
    spawnedChildren: recorder.total(
      "spawnedChildren",
      () => new Set(machine.zombies.filter((zombie) => zombie.spawnedByNode).map((zombie) => zombie.pid))
    ),
    settleOutput: recorder.total("settleOutput", () => {
      machine.settles += 1
    }),
    writeStderr: (text) => recorder.total("writeStderr", () => machine.writeStderr(text)),
    redirectStdout: (fd) =>
      recorder.total("redirectStdout", () => {
        machine.stdoutFd = fd
      }),
    runChild: (request) =>
      recorder.call("runChild", "spawn", request.command, () => {
        const program = machine.programs[request.command]
        if (program === undefined) throw new KernelFault("ENOENT", request.command, "spawn")
        machine.children.push(request)
        return program(request)
      })
  }
  const driver: ProcessDriver = {
    raise: (signal) => {
      const handlers = [...signalHandlers].filter((handler) => handler.names.includes(signal))
      for (const handler of handlers) handler.push(signal)
      return handlers.length > 0
    },
    processFault: (fault) => {
      for (const handler of faultHandlers) handler(fault)
    }
  }
  return [nodeProcess, driver]
}
