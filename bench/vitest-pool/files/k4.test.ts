import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { expect, it } from "vitest"

it("mounts a tmpfs and writes a sysctl (file 4)", () => {
  execFileSync("mkdir", ["-p", "/mnt/bench4"])
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", "/mnt/bench4"])
  writeFileSync("/mnt/bench4/f", "4")
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1\n")
  expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe("1\n")
})
