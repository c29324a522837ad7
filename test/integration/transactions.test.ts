import { describe, expect } from 'vitest';
import { dbTest as test } from '../helpers/db.js';

// Transaction options and signals, on both engines: the delivery worker opens its transactions
// with the planner restricted to index lookups (set with BEGIN), and signals go out with COMMIT.
describe('transactions', () => {
  const setting = async (q: { query: (t: string) => Promise<{ rows: object[] }> }) =>
    ((await q.query('SHOW enable_seqscan')).rows[0] as { enable_seqscan: string }).enable_seqscan;

  test('indexLookupsOnly restricts the planner inside the transaction only', async ({ db }) => {
    const inside = await db.transaction(async (tx) => [tx.indexLookupsOnly, await setting(tx)], {
      indexLookupsOnly: true,
    });
    expect(inside).toEqual([true, 'off']);
    expect(await db.transaction(async (tx) => [tx.indexLookupsOnly, await setting(tx)])).toEqual([
      false,
      'on',
    ]);
    expect(await setting(db)).toBe('on');
  });

  test('a signal reaches listeners once the transaction commits, and never when it rolls back', async ({
    db,
  }) => {
    let signals = 0;
    let heard: () => void = () => undefined;
    const stop = await db.listen('deliveries', () => {
      signals++;
      heard();
    });
    try {
      await expect(
        db.transaction(async (tx) => {
          await tx.notify('deliveries');
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const arrived = new Promise<void>((resolve) => (heard = resolve));
      await db.transaction(
        async (tx) => {
          await tx.notify('deliveries');
          await tx.notify('deliveries');
          await tx.notify('windows');
          await tx.query('SELECT 1');
        },
        { indexLookupsOnly: true },
      );
      await arrived;
      // the rolled-back transaction's signal would have come first; one signal per channel and commit
      expect(signals).toBe(1);
    } finally {
      await stop();
    }
  });

  test('a transaction whose statement failed does not report a commit, even when its body caught the error', async ({
    db,
  }) => {
    await db.query('CREATE TABLE tx_probe (id int PRIMARY KEY)');
    const body = db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx_probe VALUES (1)');
      // a body that swallows a statement's failure: the transaction is aborted all the same
      await tx.query('SELECT 1 / 0').catch(() => undefined);
      return 'done';
    });
    await expect(body).rejects.toMatchObject({ code: '25P02' });
    expect((await db.query('SELECT count(*)::int AS n FROM tx_probe')).rows).toEqual([{ n: 0 }]);
    // and the engine takes the next transaction as usual
    await db.transaction((tx) => tx.query('INSERT INTO tx_probe VALUES (2)'));
    expect((await db.query('SELECT id FROM tx_probe')).rows).toEqual([{ id: 2 }]);
  });

  test("a statement's error keeps its SQLSTATE and constraint, and not its parameters", async ({ db }) => {
    await db.query('CREATE TABLE tx_unique (id int, CONSTRAINT tx_unique_id UNIQUE (id))');
    await db.query('INSERT INTO tx_unique VALUES ($1)', [7]);
    const err = await db
      .transaction((tx) => tx.query('INSERT INTO tx_unique VALUES ($1)', [7]))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'DbError', code: '23505', constraint: 'tx_unique_id' });
    expect(err).not.toHaveProperty('params');
    expect(String((err as Error).message)).toContain('[in: INSERT INTO tx_unique');
  });
});
