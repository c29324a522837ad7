import pg from 'pg';

/** Fails the PostgreSQL run at once, with the reason, when the server cannot be reached. */
export default async function setup(): Promise<void> {
  const url = process.env.FPT_TEST_DATABASE_URL;
  if (!url) throw new Error('FPT_TEST_DATABASE_URL is not set');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    process.stdout.write(
      `PostgreSQL suite on ${url.replace(/\/\/[^@]*@/, '//')} (server ${rows[0]?.server_version})\n`,
    );
    // Schemas left behind by an interrupted earlier run, in the base database and in the workers'
    // own (test/helpers/postgres-worker-db.ts), and the catalogs' dead rows of earlier runs.
    const base = new URL(url).pathname.slice(1) || 'postgres';
    const { rows: dbs } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
      [base, `${base.replace(/[\\_%]/g, '\\$&')}\\_w%`],
    );
    for (const { datname } of dbs) {
      const target = new URL(url);
      target.pathname = `/${datname}`;
      await tidy(target.href);
    }
  } catch (err) {
    throw new Error(`PostgreSQL suite: cannot reach ${url}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Drops the schemas made more than an hour ago (their name starts with the time they were made), so
 * that a run in progress on the same server keeps its own; then vacuums the database. Every test
 * makes and drops a schema of some 140 relations: where autovacuum is off (as on this project's
 * machines) the catalogs' dead rows of every earlier run stayed behind, and DDL slowed with them (a
 * schema's creation, migration and drop took 990 ms in a database bloated by a day's runs against
 * 550 ms once vacuumed). Each run vacuums what the runs before it left.
 */
async function tidy(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows: schemas } = await client.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'fpt\\_test\\_%'`,
    );
    const hourAgo = Date.now() / 1000 - 3600;
    for (const { nspname } of schemas) {
      const made = /^fpt_test_([0-9a-z]+)_[0-9a-f]+$/.exec(nspname)?.[1];
      if (made !== undefined && Number.parseInt(made, 36) > hourAgo) continue;
      await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
    }
    await client.query('VACUUM');
  } finally {
    await client.end().catch(() => undefined);
  }
}
