import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/store/db.js';
import { PgliteDb, PgliteEngine } from '../../src/store/pglite.js';
import { MAX_PREPARED } from '../../src/store/prepared.js';
import { PostgresDb } from '../../src/store/postgres.js';
import { createTestDb, engine, testDatabaseUrl } from '../helpers/db.js';

// Both engines keep each DML statement prepared (src/store/pglite-statements.ts in the embedded
// engine's thread, src/store/postgres.ts per pooled session): parsed once, run with any
// parameters, planned again by PostgreSQL when the tables change under it, bounded in number, and
// kept apart by the planner settings it runs under.
describe("the engines' prepared statements", { timeout: 60_000 }, () => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close();
  });

  /**
   * A table `t` of three rows, on a handle whose statements all go to one session (PostgreSQL: a
   * pool of one connection), so that `pg_prepared_statements` shows what that session keeps.
   */
  const fresh = async (): Promise<Db> => {
    let db: Db;
    if (engine === 'postgres') {
      const t = await createTestDb({ migrate: false });
      opened.push({ close: () => t.drop() });
      const one = new PostgresDb({
        connectionString: testDatabaseUrl(),
        schema: t.schema,
        maxConnections: 1,
      });
      opened.unshift(one); // (closed before its schema is dropped)
      db = one;
    } else {
      const one = await PgliteDb.open();
      opened.push(one);
      db = one;
    }
    await db.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await db.query(`INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
    return db;
  };
  const kept = async (db: Db, text: string) =>
    (
      await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1',
        [text],
      )
    ).rows[0]!.n;
  const session = async (db: Db) =>
    (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

  it('prepares a statement once for any parameters, and follows a change of its table', async () => {
    const db = await fresh();
    const text = 'SELECT * FROM t WHERE id = $1';
    for (const [id, v] of [
      [1, 'one'],
      [3, 'three'],
      [2, 'two'],
    ] as const)
      expect((await db.query(text, [id])).rows).toEqual([{ id, v }]);
    expect(await kept(db, text)).toBe(1);
    // the kept statement's columns change: PostgreSQL refuses the old plan, and it is prepared again
    await db.query('ALTER TABLE t ADD COLUMN w int NOT NULL DEFAULT 7');
    expect((await db.query(text, [2])).rows).toEqual([{ id: 2, v: 'two', w: 7 }]);
    expect(await kept(db, text)).toBe(1);
  });

  it('keeps a statement run with index lookups only apart from the same text planned without them', async () => {
    const db = await fresh();
    const text = 'SELECT v FROM t WHERE id = $1';
    // past PostgreSQL's five custom plans, so that a generic plan is kept
    for (let i = 0; i < 7; i++) expect((await db.query(text, [1])).rows).toEqual([{ v: 'one' }]);
    await db.transaction(
      async (tx) => {
        for (let i = 0; i < 7; i++) expect((await tx.query(text, [2])).rows).toEqual([{ v: 'two' }]);
      },
      { indexLookupsOnly: true },
    );
    // a plan made without the settings is not reused under them, nor the other way round
    expect(await kept(db, text)).toBe(2);
  });

  it('keeps a statement restricted to index lookups mid-transaction apart too', async () => {
    const db = await fresh();
    const text = 'SELECT v FROM t WHERE id = $1';
    for (let i = 0; i < 7; i++) expect((await db.query(text, [1])).rows).toEqual([{ v: 'one' }]);
    await db.transaction(async (tx) => {
      expect(tx.indexLookupsOnly).toBe(false);
      await tx.restrictToIndexLookups();
      expect(tx.indexLookupsOnly).toBe(true);
      for (let i = 0; i < 7; i++) expect((await tx.query(text, [3])).rows).toEqual([{ v: 'three' }]);
    });
    expect(await kept(db, text)).toBe(2);
  });

  it('keeps a failing statement usable, with its error, and does not keep one that does not parse', async () => {
    const db = await fresh();
    const before = await session(db);
    const insert = 'INSERT INTO t (id, v) VALUES ($1, $2)';
    await expect(db.query(insert, [1, 'again'])).rejects.toMatchObject({
      code: '23505',
      constraint: 't_pkey',
    });
    await db.query(insert, [4, 'four']);
    expect((await db.query('SELECT v FROM t WHERE id = $1', [4])).rows).toEqual([{ v: 'four' }]);
    const bad = 'SELECT nope FROM t WHERE id = $1';
    for (let i = 0; i < 2; i++) await expect(db.query(bad, [1])).rejects.toMatchObject({ code: '42703' });
    expect(await kept(db, bad)).toBe(0);
    // inside a transaction, as outside
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insert, [5, 'five']);
        await tx.query(insert, [5, 'five again']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect((await db.query('SELECT count(*)::int AS n FROM t WHERE id = $1', [5])).rows).toEqual([{ n: 0 }]);
    // a refused statement does not cost the session (nor what it keeps prepared)
    expect(await session(db)).toBe(before);
    expect(await kept(db, insert)).toBe(1);
  });

  it('keeps a bounded number of statements, the most recently used', async () => {
    const db = await fresh();
    const texts = Array.from({ length: MAX_PREPARED + 20 }, (_, n) => `SELECT $1::int + ${n} AS v`);
    for (const [n, text] of texts.entries()) expect((await db.query(text, [1])).rows).toEqual([{ v: n + 1 }]);
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'fpt\\_s%'`,
    );
    expect(rows[0]!.n).toBeLessThanOrEqual(MAX_PREPARED);
    expect(await kept(db, texts.at(-1)!)).toBe(1);
    expect(await kept(db, texts[0]!)).toBe(0);
    expect((await db.query(texts[0]!, [2])).rows).toEqual([{ v: 2 }]);
  });

  it('closes a statement it let go inside a failed transaction, once the session is free', async () => {
    const db = await fresh();
    const server = async () =>
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'fpt\\_s%'`,
        )
      ).rows[0]!.n;
    const texts = Array.from({ length: MAX_PREPARED }, (_, n) => `SELECT $1::int + ${n} AS v`);
    for (const text of texts) await db.query(text, [1]);
    expect(await server()).toBe(MAX_PREPARED);
    // Inside a transaction that has failed, a statement not kept yet makes room: the least recently
    // used one is let go while the server refuses everything but the transaction's end.
    await expect(
      db.transaction(async (tx) => {
        await expect(tx.query('INSERT INTO t (id, v) VALUES ($1, $2)', [1, 'again'])).rejects.toMatchObject({
          code: '23505',
        });
        await tx.query('SELECT $1::int * 2 AS v', [1]);
      }),
    ).rejects.toMatchObject({ code: '25P02' });
    // Once every kept statement has been used again, the server keeps exactly what the adapter
    // does: the statement let go is not left behind on the server for the session's life.
    for (const text of texts) await db.query(text, [1]);
    expect(await server()).toBe(MAX_PREPARED);
  });

  it.runIf(engine === 'pglite')('answers the same text from the schema each handle works in', async () => {
    const eng = await PgliteEngine.open();
    opened.push(eng);
    const [a, b] = ['stmt_a', 'stmt_b'].map((schema) => PgliteDb.onSchema(eng, schema));
    for (const [db, schema, v] of [
      [a!, 'stmt_a', 'from a'],
      [b!, 'stmt_b', 'from b'],
    ] as const) {
      await eng.thread.request({ op: 'exec', text: `CREATE SCHEMA ${schema}` });
      await db.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
      await db.query('INSERT INTO t VALUES (1, $1)', [v]);
    }
    const text = 'SELECT v FROM t WHERE id = $1';
    for (let i = 0; i < 3; i++) {
      expect((await a!.query(text, [1])).rows).toEqual([{ v: 'from a' }]);
      expect((await b!.query(text, [1])).rows).toEqual([{ v: 'from b' }]);
    }
  });
});
