// The pool's bench (bench/vitest-pool/run.sh): eight small files that need a
// kernel, in the pool with BENCH_WORKERS VMs, or (BENCH_POOL=forks) vitest's
// forks pool, for vitest run whole inside one VM by `exec`.
import { defineConfig } from "vitest/config"
import { vmPool } from "../../src/vitest.ts"

export default defineConfig({
  test: {
    include: ["files/*.test.ts"],
    isolate: false,
    maxWorkers: Number(process.env["BENCH_WORKERS"] ?? 1),
    pool: process.env["BENCH_POOL"] === "forks" ? "forks" : vmPool({ memory: 1024 })
  }
})
