/**
 * Numbers of the system calls that have no libc wrapper, per architecture.
 * x86_64 has its own table (arch/x86/entry/syscalls/syscall_64.tbl); aarch64
 * and riscv64 share asm-generic/unistd.h.
 */

/** The system calls made through `syscall(2)`. */
export interface SyscallNumbers {
  readonly init_module: number
  readonly finit_module: number
  /** Not needed by the init; a harmless call that proves the table is the running kernel's. */
  readonly getpid: number
}

const asmGeneric: SyscallNumbers = { init_module: 105, finit_module: 273, getpid: 172 }

/** Keyed by `process.arch`. */
export const syscallNumbersByArch: Readonly<Record<string, SyscallNumbers>> = {
  x64: { init_module: 175, finit_module: 313, getpid: 39 },
  arm64: asmGeneric,
  riscv64: asmGeneric
}

/** The table of an architecture, or `undefined` when the init does not support it. */
export const syscallNumbersFor = (arch: string): SyscallNumbers | undefined =>
  Object.hasOwn(syscallNumbersByArch, arch) ? syscallNumbersByArch[arch] : undefined
