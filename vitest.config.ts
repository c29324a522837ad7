import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The integration suite runs once per engine. The PostgreSQL run is switched on by
// FPT_TEST_DATABASE_URL (CI always sets it); its global setup fails the run when the server cannot
// be reached, so it never skips silently.
const pgUrl = process.env.FPT_TEST_DATABASE_URL;

export default defineConfig({
  // the partner SDK by its package name, from source (as tsconfig.json's paths)
  resolve: { alias: { '@fpt/webhooks': fileURLToPath(new URL('./sdk/src/index.ts', import.meta.url)) } },
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      // the SDK's own tests: no server code, no database
      { extends: true, test: { name: 'sdk', include: ['sdk/test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'pglite',
          include: ['test/integration/**/*.test.ts'],
          env: { FPT_TEST_ENGINE: 'pglite' },
          // one embedded engine per worker, shared by its test files (each test gets its own schema)
          isolate: false,
        },
      },
      ...(pgUrl
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['test/integration/**/*.test.ts'],
                env: { FPT_TEST_ENGINE: 'postgres' },
                globalSetup: ['test/helpers/postgres-global-setup.ts'],
                // each worker on a database of its own (VACUUM's horizon is per database)
                setupFiles: ['test/helpers/postgres-worker-db.ts'],
                isolate: false,
              },
            },
          ]
        : []),
      // the portal in a real browser (Debian's chromium), against the whole service on each engine
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          env: { FPT_TEST_ENGINE: 'pglite' },
          // conditions awaited in a page (a delivery arriving) wait as long as a locator does
          expect: { poll: { timeout: 15_000 } },
        },
      },
      ...(pgUrl
        ? [
            {
              extends: true as const,
              test: {
                name: 'browser-postgres',
                include: ['test/browser/**/*.test.ts'],
                expect: { poll: { timeout: 15_000 } },
                env: { FPT_TEST_ENGINE: 'postgres' },
                globalSetup: ['test/helpers/postgres-global-setup.ts'],
                setupFiles: ['test/helpers/postgres-worker-db.ts'],
              },
            },
          ]
        : []),
    ],
    // Test files mostly wait (on the database, timers, child processes, the browser), so two run at
    // once even on two cores, where vitest's default is one (cores - 1). PostgreSQL workers each
    // have a database of their own (test/helpers/postgres-worker-db.ts).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
