import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { expect, it } from "vitest"

it("mounts a tmpfs and writes a sysctl (file 6)", () => {
  execFileSync("mkdir", ["-p", "/mnt/bench6"])
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", "/mnt/bench6"])
  writeFileSync("/mnt/bench6/f", "6")
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1\n")
  expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe("1\n")
})
