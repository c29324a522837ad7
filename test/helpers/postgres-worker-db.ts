import pg from 'pg';

/**
 * Each vitest worker of the PostgreSQL projects gets a database of its own on the test server
 * (`<database>_w<pool id>`), made on first use; `FPT_TEST_DATABASE_URL` is pointed at it before any
 * test file of the worker runs, so helpers, spawned services and tests that read the variable all
 * follow. Tests already isolate their data by schema; a database per worker also isolates what a
 * schema cannot: VACUUM's horizon is per database, so one file's open snapshot no longer keeps
 * another file's dead rows (the maintenance tests count them), and a server-wide view such as
 * `pg_stat_activity` filtered on the current database sees one worker's sessions.
 */
const base = process.env.FPT_TEST_DATABASE_BASE_URL ?? process.env.FPT_TEST_DATABASE_URL;
if (!base) throw new Error('the postgres project needs FPT_TEST_DATABASE_URL');
process.env.FPT_TEST_DATABASE_BASE_URL = base;

const poolId = process.env.VITEST_POOL_ID ?? '1';
const url = new URL(base);
const name = `${url.pathname.slice(1) || 'postgres'}_w${poolId}`;

if (process.env.FPT_TEST_DATABASE_URL_FOR !== name) {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      // duplicate_database: a worker of another run (or project) with the same pool id made it first
      await admin.query(`CREATE DATABASE "${name}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04' && err.code !== '23505') throw err;
      });
    }
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  process.env.FPT_TEST_DATABASE_URL = url.href;
  process.env.FPT_TEST_DATABASE_URL_FOR = name;
}
