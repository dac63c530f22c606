import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { expect, it } from "vitest"

it("mounts a tmpfs and writes a sysctl (file 2)", () => {
  execFileSync("mkdir", ["-p", "/mnt/bench2"])
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", "/mnt/bench2"])
  writeFileSync("/mnt/bench2/f", "2")
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1\n")
  expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe("1\n")
})
