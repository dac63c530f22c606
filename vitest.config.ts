import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"
import { TiersSequencer } from "./test/tiers.ts"

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
    // The fixtures are projects of their own (test/fixtures/vitest-pool runs in VMs, from test/vm).
    exclude: ["**/node_modules/**", "test/fixtures/**"],
    testTimeout: 30_000,
    // Two files at once, whatever the tier: a VM file is mostly one QEMU under TCG, a core's worth, so two keep
    // both cores of a 2-core machine busy (vitest's default, one fewer than the cores, would run one file at a time).
    maxWorkers: 2,
    // The VM files first, the longest of the run, while the quick tiers fill the gaps (test/tiers.ts).
    sequence: { sequencer: TiersSequencer },
    // One project per tier, so that `--project unit --project namespace` (npm run test:quick) leaves out the VMs.
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { extends: true, test: { name: "namespace", include: ["test/namespace/**/*.test.ts"] } },
      { extends: true, test: { name: "vm", include: ["test/vm/**/*.test.ts"] } }
    ],
    // `npm run coverage`: the unit tier, with every file of src/ counted, run or not.
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      reporter: ["text", "text-summary"]
    }
  }
})
