import { defineConfig } from "vitest/config"

export default defineConfig({
  // The package's own name resolves to its TypeScript sources ("source" in its exports).
  resolve: { conditions: ["source"] },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000
  }
})
