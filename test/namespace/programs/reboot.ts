/**
 * PID 1 calls reboot(2) with the command named on its command line. In a pid
 * namespace other than the initial one this ends PID 1 with a signal.
 */
import { Effect } from "effect"
import {
  LINUX_REBOOT_CMD_HALT,
  LINUX_REBOOT_CMD_POWER_OFF,
  LINUX_REBOOT_CMD_RESTART
} from "../../../src/internal/abi.ts"
import { Syscalls } from "../../../src/Syscalls.ts"
import { runScenarios } from "../pidOne.ts"

const reboot = (command: number) => Syscalls.use((syscalls) => Effect.andThen(syscalls.sync, syscalls.reboot(command)))

await runScenarios({
  restart: reboot(LINUX_REBOOT_CMD_RESTART),
  halt: reboot(LINUX_REBOOT_CMD_HALT),
  "power off": reboot(LINUX_REBOOT_CMD_POWER_OFF),
  "unknown command": reboot(0x12345678)
})
