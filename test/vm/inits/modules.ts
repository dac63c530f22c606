// Loads every module under /lib/modules (in dependency order, whatever
// their names), then, over the host pipes that the loaded virtio_console
// gives, writes 16 MiB of random bytes to stdout and a JSON report (the
// payload's sha256, the load order and the console behind stdout) to the
// second host pipe.
// /proc/modules lists the module loaded last first: reversed, it is the
// order in which the kernel loaded them.
import { Effect } from "effect"
import { HostPipe, Init, Kmod, Sysinit } from "effect-sysinit"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"

const write = (bytes: Uint8Array) =>
  Effect.callback<void>((resume) => {
    process.stdout.write(bytes, () => resume(Effect.void))
  })

Init.main(
  Kmod.loadModules("/lib/modules/*"),
  HostPipe.withStdoutHostPipe,
  Effect.gen(function*() {
    const payload = randomBytes(16 * 1024 * 1024)
    yield* write(payload)
    const report = {
      stdoutConsole: fs.readlinkSync("/dev/virtrun1"),
      sha256: createHash("sha256").update(payload).digest("hex"),
      loadOrder: fs.readFileSync("/proc/modules", "utf8").split("\n").filter((line) => line !== "").map((line) =>
        line.split(" ")[0]
      ).toReversed()
    }
    fs.writeFileSync("/dev/virtrun2", `${JSON.stringify(report)}\n`)
    yield* Sysinit.setExitCode(0)
  })
)
