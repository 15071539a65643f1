import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Each test file gets its own DuckDB file; files run in parallel processes.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
