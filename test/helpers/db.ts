import { randomBytes } from 'node:crypto';
import { test as base } from 'vitest';
import { quoteIdent, type Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { PgliteDb, PgliteEngine } from '../../src/store/pglite.js';
import { PostgresDb } from '../../src/store/postgres.js';

export type TestEngine = 'pglite' | 'postgres';

export const engine: TestEngine = process.env.FPT_TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';

/** The PostgreSQL test server's URL (`FPT_TEST_DATABASE_URL`). */
export const testDatabaseUrl = (): string => {
  const url = process.env.FPT_TEST_DATABASE_URL;
  if (!url) throw new Error('the postgres project needs FPT_TEST_DATABASE_URL');
  return url;
};

/** Where the test's PostgreSQL server listens (a `TcpProxy` target). */
export function pgServer(): { host: string; port: number } {
  const url = new URL(testDatabaseUrl());
  return { host: url.hostname, port: Number(url.port || 5432) };
}

// One embedded engine per test worker: starting one costs ~2.5 s, a schema costs milliseconds.
let sharedEngine: Promise<PgliteEngine> | undefined;
let adminDb: PostgresDb | undefined;

export interface TestDb {
  db: Db;
  schema: string;
  /**
   * Another handle on the same schema, as a second process would have (PostgreSQL: its own pool,
   * connecting to `port` on loopback instead of the server's own, as through a `TcpProxy`).
   */
  openAnother(via?: { port: number }): Db;
  drop(): Promise<void>;
}

/** A fresh, migrated schema of its own on the engine under test. */
export async function createTestDb(opts: { migrate?: boolean } = {}): Promise<TestDb> {
  // the creation time in the name lets a later run tell a leftover from a schema in use (see the
  // PostgreSQL global setup)
  const schema = `fpt_test_${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(6).toString('hex')}`;
  let db: Db;
  let openAnother: (via?: { port: number }) => Db;
  let dropSchema: () => Promise<void>;
  const others: Db[] = [];
  // what lets the tests after this one go on if its schema cannot be dropped (`freedWithin`)
  let wedged = async () => {};
  if (engine === 'postgres') {
    adminDb ??= new PostgresDb({ connectionString: testDatabaseUrl(), maxConnections: 2 });
    const admin = adminDb;
    await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    db = new PostgresDb({ connectionString: testDatabaseUrl(), schema, maxConnections: 5 });
    openAnother = (via) => {
      const url = new URL(testDatabaseUrl());
      if (via) [url.hostname, url.port] = ['127.0.0.1', String(via.port)];
      const other = new PostgresDb({ connectionString: url.href, schema, maxConnections: 5 });
      others.push(other);
      return other;
    };
    dropSchema = async () => {
      await admin.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
    };
  } else {
    const opening = (sharedEngine ??= PgliteEngine.open());
    const eng = await opening;
    // the next test opens an engine of its own; this one's thread is ended, transaction and all
    wedged = async () => {
      if (sharedEngine === opening) sharedEngine = undefined;
      await eng.thread.close();
    };
    await eng.exclusive(() =>
      eng.thread.request({ op: 'exec', text: `CREATE SCHEMA ${quoteIdent(schema)}` }),
    );
    db = PgliteDb.onSchema(eng, schema);
    openAnother = () => PgliteDb.onSchema(eng, schema);
    dropSchema = async () => {
      await eng.exclusive(async () => {
        await eng.thread.request({ op: 'exec', text: `DROP SCHEMA ${quoteIdent(schema)} CASCADE` });
        eng.currentSchema = undefined;
      });
    };
  }
  if (opts.migrate !== false) await migrate(db);
  return {
    db,
    schema,
    openAnother,
    drop: () =>
      freedWithin(
        (async () => {
          for (const o of others) await o.close();
          await db.close();
          await dropSchema();
        })(),
        wedged,
      ),
  };
}

/**
 * How long a test's schema may take to be dropped after the test: far longer than it ever takes,
 * short of the fixture's own bound (vitest's hookTimeout, 60 s), which does not hold its teardown.
 */
const DROP_BOUND_MS = 20_000;

/**
 * `dropping`, failing after `DROP_BOUND_MS` with what the usual cause is. A test that awaits a
 * statement outside a transaction it holds open deadlocks (the embedded engine's one session waits
 * for the transaction to end; a PostgreSQL DROP SCHEMA waits for its locks): vitest times the test
 * out, but its teardown then waited for ever, and so did every test after it in the worker and
 * the whole run. `onWedged` lets the next tests go on (a new embedded engine).
 */
async function freedWithin(dropping: Promise<void>, onWedged: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'wedged'>(
    (resolve) => (timer = setTimeout(() => resolve('wedged'), DROP_BOUND_MS)),
  );
  try {
    if ((await Promise.race([dropping, bound])) !== 'wedged') return;
  } finally {
    clearTimeout(timer);
  }
  dropping.catch(() => undefined);
  await onWedged();
  throw new Error(
    `the test's schema was not dropped within ${DROP_BOUND_MS / 1000} s of its end: a transaction is still ` +
      'open, most likely waiting for a statement the test sent outside it (a deadlock)',
  );
}

/** `test` with a `testDb` fixture: a fresh migrated schema per test, dropped afterwards. */
export const dbTest = base.extend<{ testDb: TestDb; db: Db }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  testDb: async ({}, use) => {
    const t = await createTestDb();
    try {
      await use(t);
    } finally {
      await t.drop();
    }
  },
  db: async ({ testDb }, use) => {
    await use(testDb.db);
  },
});
