import { defineConfig } from 'vitest/config';

// The Inspect panel bench drives Chromium through playwright-core, which jiti cannot load; vitest can.
export default defineConfig({
  test: { include: ['bench/inspect-panel.bench.ts'], pool: 'forks', maxWorkers: 1, testTimeout: 600_000, hookTimeout: 300_000 },
});
