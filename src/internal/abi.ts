// Constants of the Linux kernel ABI that both Syscalls Layers and the
// operations share. Values are the same on x86_64, aarch64 and riscv64.

/** mount(2) flags, from <linux/mount.h>. */
export const MS_RDONLY = 0x1
export const MS_NOSUID = 0x2
export const MS_NODEV = 0x4
export const MS_NOEXEC = 0x8
export const MS_SYNCHRONOUS = 0x10
export const MS_REMOUNT = 0x20
export const MS_MANDLOCK = 0x40
export const MS_DIRSYNC = 0x80
export const MS_NOSYMFOLLOW = 0x100
export const MS_NOATIME = 0x400
export const MS_NODIRATIME = 0x800
export const MS_BIND = 0x1000
export const MS_MOVE = 0x2000
export const MS_REC = 0x4000
export const MS_SILENT = 0x8000
export const MS_UNBINDABLE = 0x20000
export const MS_PRIVATE = 0x40000
export const MS_SLAVE = 0x80000
export const MS_SHARED = 0x100000
export const MS_RELATIME = 0x200000
export const MS_STRICTATIME = 0x1000000
export const MS_LAZYTIME = 0x2000000

/** reboot(2) commands, from <linux/reboot.h>. */
export const LINUX_REBOOT_CMD_RESTART = 0x01234567
export const LINUX_REBOOT_CMD_HALT = 0xcdef0123
export const LINUX_REBOOT_CMD_POWER_OFF = 0x4321fedc
export const LINUX_REBOOT_CMD_CAD_OFF = 0x00000000

/** finit_module(2) flags: the file is compressed and the kernel decompresses it (Linux ≥ 6.4). */
export const MODULE_INIT_COMPRESSED_FILE = 4

/** Network interface flags (struct ifreq's ifr_flags), from <linux/if.h>. */
export const IFF_UP = 0x1
export const IFF_LOOPBACK = 0x8

/** The longest interface name, with its terminating NUL. */
export const IFNAMSIZ = 16

/** waitpid(2) option: return at once when the child has not changed state. */
export const WNOHANG = 1

/** open(2): an unnamed regular file in the directory given, from <asm-generic/fcntl.h> (`__O_TMPFILE | O_DIRECTORY`). */
export const O_TMPFILE = 0o20200000
