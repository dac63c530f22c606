import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = fileURLToPath(new URL("./src/", import.meta.url))

export default defineConfig({
  // The package's own name resolves to its TypeScript sources, as "source" in its exports does for tsc.
  resolve: {
    alias: [
      { find: /^effect-sysinit$/, replacement: `${src}index.ts` },
      { find: /^effect-sysinit\/([^/]+)$/, replacement: `${src}$1.ts` }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    // The fixtures are projects of their own (test/fixtures/vitest-pool runs in VMs, from test/vm).
    exclude: ["**/node_modules/**", "test/fixtures/**"],
    testTimeout: 30_000,
    // `npm run coverage`: the unit tier, with every file of src/ counted, run or not.
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      reporter: ["text", "text-summary"]
    }
  }
})
