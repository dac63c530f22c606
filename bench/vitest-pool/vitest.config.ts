// The pool's bench (bench/vitest-pool/run.sh): eight small files that need a
// kernel, in the pool with BENCH_WORKERS VMs at a time, each file in a VM of
// its own (vitest's default isolation: each VM a restore of the saved
// machine), with the workers' compile cache unless BENCH_COMPILE_CACHE=0, or
// (BENCH_POOL=forks) vitest's forks pool, for vitest run whole inside one VM
// by `exec`.
import { defineConfig } from "vitest/config"
import { vmPool } from "../../src/vitest.ts"

export default defineConfig({
  test: {
    include: ["files/*.test.ts"],
    maxWorkers: Number(process.env["BENCH_WORKERS"] ?? 1),
    pool: process.env["BENCH_POOL"] === "forks"
      ? "forks"
      : vmPool({ memory: 1024, compileCache: process.env["BENCH_COMPILE_CACHE"] !== "0" })
  }
})
