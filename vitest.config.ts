import { configDefaults, defineConfig } from 'vitest/config';

// Three sets of tests, told apart by file name:
// - unit, one project per workspace (`*.test.ts`): pure logic and in-process
//   apps (supertest, loopback servers in this process, the memory store). No
//   PGlite, DuckDB, PostgreSQL, child process, worker or browser.
//   `npm run test:unit` runs only these, in well under a minute.
// - integration (`*.int.test.ts` in any workspace): real stores and engines
//   (PGlite, PostgreSQL, DuckDB), child processes and workers, long property runs.
// - system (everything under tests/): real processes, Chromium, Prometheus.
// `npm test` runs them all and ends with vitest's summary line.
const INTEGRATION = '**/*.int.test.ts';
const UNIT_EXCLUDE = [...configDefaults.exclude, INTEGRATION];
// Unit files share their worker's module cache instead of each importing the
// workspaces afresh, which halves the unit set's time. So a unit test leaves
// nothing behind: timers, spies and globals it changes are restored after it.
const UNIT = { exclude: UNIT_EXCLUDE, isolate: false };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'schemas',
          root: './schemas',
          include: ['test/**/*.test.ts'],
          ...UNIT,
        },
      },
      {
        test: {
          name: 'http-kit',
          root: './http-kit',
          include: ['src/**/*.test.ts'],
          ...UNIT,
        },
      },
      {
        test: {
          name: 'node-adapter',
          root: './node-adapter',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          ...UNIT,
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'gateway',
          root: './gateway',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          ...UNIT,
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['*/src/**/*.int.test.ts', '*/test/**/*.int.test.ts'],
          exclude: [...configDefaults.exclude, 'tests/**'],
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
