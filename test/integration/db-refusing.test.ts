import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import { createTestApi, type TestApi } from '../helpers/api.js';
import { dbTest as test, engine, testDatabaseUrl } from '../helpers/db.js';
import { pgErrorCode, quoteIdent } from '../../src/store/db.js';
import { PostgresDb } from '../../src/store/postgres.js';

// Found by the security review (#14): a database that refuses connections answered 500, not the
// documented 503 `unavailable` with Retry-After. These are PostgreSQL servers' refusals; the
// embedded store has no server to refuse.

async function expectUnavailable(api: TestApi): Promise<void> {
  const res = await api.post('/api/organizations', { name: 'Iron Temple' });
  expect(res.status, JSON.stringify(res.body)).toBe(503);
  expect(res.headers['retry-after']).toBe('1');
  expect(res.body.error.code).toBe('unavailable');
}

/** `url` with `change` applied to it. */
function urlWith(change: (url: URL) => void): string {
  const url = new URL(testDatabaseUrl());
  change(url);
  return url.href;
}

describe.runIf(engine === 'postgres')('a PostgreSQL server that will not serve us now', () => {
  test('a database that does not accept connections (ALLOW_CONNECTIONS false) is a 503', async ({ db }) => {
    // One empty database, made by the first run and kept: creating one writes a copy of the
    // template to the WAL, which took most of a minute on the shared, loaded test machine.
    const name = 'fpt_test_not_accepting_connections';
    try {
      await db.query(`CREATE DATABASE ${quoteIdent(name)} ALLOW_CONNECTIONS false`);
    } catch (err) {
      if (pgErrorCode(err) !== '42P04') throw err; // duplicate_database: an earlier run's
    }
    await db.query(`ALTER DATABASE ${quoteIdent(name)} ALLOW_CONNECTIONS false`);
    const closed = new PostgresDb({ connectionString: urlWith((u) => (u.pathname = `/${name}`)) });
    try {
      await expectUnavailable(createTestApi(closed));
    } finally {
      await closed.close();
    }
  });

  test('a role out of connections (too_many_connections) is a 503', async ({ db }) => {
    const role = `fpt_test_role_${randomBytes(6).toString('hex')}`;
    await db.query(`CREATE ROLE ${quoteIdent(role)} LOGIN CONNECTION LIMIT 0`);
    const full = new PostgresDb({ connectionString: urlWith((u) => (u.username = role)) });
    try {
      await expectUnavailable(createTestApi(full));
    } finally {
      await full.close();
      await db.query(`DROP ROLE ${quoteIdent(role)}`);
    }
  });

  test('a read-only server (a standby after a failover) is a 503 for a write', async ({ testDb }) => {
    const options = `-c search_path=${quoteIdent(testDb.schema)} -c default_transaction_read_only=on`;
    const readOnly = new PostgresDb({
      connectionString: urlWith((u) => u.searchParams.set('options', options)),
    });
    try {
      await expectUnavailable(createTestApi(readOnly));
    } finally {
      await readOnly.close();
    }
  });
});
