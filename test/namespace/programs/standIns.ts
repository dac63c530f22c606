/**
 * The live kernel (and process) with a stand-in for devtmpfs, which a user namespace
 * refuses: a tmpfs holding only the namespace's view of /dev/null (bound
 * before the tmpfs hides it), so a run gets past its essential mounts and
 * its steps can spawn children with ignored stdio. Nothing reaches the
 * host's /dev: the tmpfs is the namespace's own.
 */
import { Effect, Layer } from "effect"
import * as Abi from "../../../src/internal/abi.ts"
import { live } from "../../../src/Layer.ts"
import { Syscalls } from "../../../src/Syscalls.ts"

// provideMerge keeps live's NodeProcess beside this Syscalls, which wins over live's.
export const devtmpfsAsTmpfs = Layer.effect(
  Syscalls,
  Syscalls.useSync((kernel) =>
    Syscalls.of({
      ...kernel,
      mount: (request) => {
        if (request.fsType !== "devtmpfs") return kernel.mount(request)
        const bind = (source: string, target: string) =>
          kernel.mount({ source, target, fsType: "", flags: Abi.MS_BIND, data: "" })
        return Effect.gen(function*() {
          yield* kernel.writeFile("/tmp/.null", "")
          yield* bind(`${request.target}/null`, "/tmp/.null")
          yield* kernel.mount({ ...request, source: "devtmpfs-standin", fsType: "tmpfs" })
          yield* kernel.writeFile(`${request.target}/null`, "")
          yield* bind("/tmp/.null", `${request.target}/null`)
        })
      }
    })
  )
).pipe(Layer.provideMerge(live))
