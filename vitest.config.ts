import { defineConfig } from 'vitest/config'

// At most 2 test files at once (2-core machines). Files named *.slow.test.ts hold
// testnets over 10 nodes and long runs; `npm run test:quick` leaves them out.
const quick = process.env.VEIL_TEST_QUICK === '1'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: quick ? ['test/**/*.slow.test.ts', 'node_modules/**'] : ['node_modules/**'],
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default']
  }
})
