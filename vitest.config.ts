import { defineConfig } from 'vitest/config';

// One vitest project per workspace; `npm test` runs them all and ends with
// vitest's summary line.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'schemas', root: './schemas', include: ['test/**/*.test.ts'] } },
      {
        test: {
          name: 'node-adapter',
          root: './node-adapter',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'gateway',
          root: './gateway',
          include: ['src/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'system',
          root: './tests',
          include: ['**/*.test.ts'],
          exclude: ['**/node_modules/**', 'bench/**'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
