import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    // TMPL_TEST_RESULTS: where the JSON report goes (the Node 22 run writes its own, scripts/node22.mjs).
    reporters: ['default', ['json', { outputFile: process.env.TMPL_TEST_RESULTS ?? '.vitest-results.json' }]],
  },
});
