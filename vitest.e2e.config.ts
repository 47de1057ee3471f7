import { defineConfig } from 'vitest/config';

// Browser and Electron end-to-end suites: run against the built app (`npm run build` first).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
