import { describe, expect, vi } from 'vitest';
import { dbTest, engine, pgServer } from '../helpers/db.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

// On PostgreSQL a transaction's first statement is sent right behind its BEGIN, without waiting for
// BEGIN's answer (src/store/postgres.ts): BEGIN costs no round trip of its own.
describe.runIf(engine === 'postgres')('PostgreSQL transactions', () => {
  dbTest("send their first statement before BEGIN's answer has come", async ({ testDb }) => {
    const proxy = await TcpProxy.start(pgServer());
    const db = testDb.openAnother({ port: proxy.port });
    try {
      await db.query('SELECT 1'); // the pool's connection made, with its answers flowing
      proxy.holdAnswers();
      const tx = db.transaction(async (t) => {
        const { rows } = await t.query<{ marker: number }>('SELECT 4242 AS marker');
        return rows[0]!.marker;
      });
      // the statement reached the server while no answer, BEGIN's included, had come back
      await vi.waitFor(() => expect(proxy.sentText()).toContain('SELECT 4242 AS marker'));
      expect(proxy.sentText()).toMatch(/BEGIN[\s\S]*SELECT 4242 AS marker/);
      proxy.releaseAnswers();
      expect(await tx).toBe(4242);
    } finally {
      proxy.releaseAnswers();
      await db.close();
      await proxy.close();
    }
  });

  dbTest('still run as one transaction, rolled back whole', async ({ db }) => {
    await db.query('CREATE TABLE pipelined (id int PRIMARY KEY)');
    const failing = db.transaction(async (t) => {
      await t.query('INSERT INTO pipelined VALUES (1)');
      await t.query('INSERT INTO pipelined VALUES (1)'); // a duplicate: the transaction fails
    });
    await expect(failing).rejects.toMatchObject({ code: '23505' });
    expect((await db.query('SELECT count(*)::int AS n FROM pipelined')).rows).toEqual([{ n: 0 }]);
  });
});
