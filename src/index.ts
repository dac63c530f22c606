/**
 * @since 0.1.0
 */
export * as Env from "./Env.ts"
export * as Exec from "./Exec.ts"
export * as HostPipe from "./HostPipe.ts"
export * as Init from "./Init.ts"
export * as Kmod from "./Kmod.ts"
export * as Layer from "./Layer.ts"
export * as Mount from "./Mount.ts"
export * as Network from "./Network.ts"
export * as NodeProcess from "./NodeProcess.ts"
export * as Pid1 from "./Pid1.ts"
export * as Restore from "./Restore.ts"
export * as Share from "./Share.ts"
export * as State from "./State.ts"
export * as Symlink from "./Symlink.ts"
export * as Syscalls from "./Syscalls.ts"
export * as Sysinit from "./Sysinit.ts"
