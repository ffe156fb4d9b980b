import { defineConfig } from 'vitest/config'

// At most 2 test files at once (2-core machines). Files named *.slow.test.ts hold
// testnets over 10 nodes and long runs: `npm run test:quick` leaves them out, and
// `npm test` runs them afterwards one file at a time (VEIL_TEST_SET=slow), so a
// 25-process testnet never competes with another network test for the two cores.
const set = process.env.VEIL_TEST_SET ?? 'fast'
const slow = 'test/**/*.slow.test.ts'

export default defineConfig({
  test: {
    include: set === 'slow' ? [slow] : ['test/**/*.test.ts'],
    exclude: set === 'slow' ? ['node_modules/**'] : [slow, 'node_modules/**'],
    maxWorkers: set === 'slow' ? 1 : 2,
    fileParallelism: set !== 'slow',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default']
  }
})
