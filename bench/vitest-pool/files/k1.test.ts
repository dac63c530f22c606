import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { expect, it } from "vitest"

it("mounts a tmpfs and writes a sysctl (file 1)", () => {
  execFileSync("mkdir", ["-p", "/mnt/bench1"])
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", "/mnt/bench1"])
  writeFileSync("/mnt/bench1/f", "1")
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1\n")
  expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe("1\n")
})
