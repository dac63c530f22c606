import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { expect, it } from "vitest"

it("mounts a tmpfs and writes a sysctl (file 8)", () => {
  execFileSync("mkdir", ["-p", "/mnt/bench8"])
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", "/mnt/bench8"])
  writeFileSync("/mnt/bench8/f", "8")
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1\n")
  expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe("1\n")
})
