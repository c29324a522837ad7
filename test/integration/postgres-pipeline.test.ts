import { Socket } from 'node:net';
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

  dbTest(
    'send what one turn of the event loop sends in one socket write: BEGIN, the statements sent before an answer is awaited, and a COMMIT that follows them',
    async ({ testDb }) => {
      const proxy = await TcpProxy.start(pgServer());
      const db = testDb.openAnother({ port: proxy.port });
      try {
        await db.query('SELECT 1'); // the pool's connection made
        // a body that sends two statements and ends without waiting for their answers (as the single
        // writes' batch does): BEGIN, both statements and COMMIT go together
        let answers: Promise<unknown>[] = [];
        expect(
          await socketWrites(proxy.port, () =>
            db.transaction(async (t) => {
              answers = [t.query('SELECT 1 AS a'), t.query('SELECT 2 AS b')];
            }),
          ),
        ).toBe(1);
        await Promise.all(answers);
        // a body that waits for its first statement's answer: BEGIN with it, then the second with COMMIT
        expect(
          await socketWrites(proxy.port, () =>
            db.transaction(async (t) => {
              await t.query('SELECT 1 AS a');
              answers = [t.query('SELECT 2 AS b')];
            }),
          ),
        ).toBe(2);
        await Promise.all(answers);
        // and a statement outside any transaction is still one write
        expect(await socketWrites(proxy.port, () => db.query('SELECT 3 AS c'))).toBe(1);
      } finally {
        await db.close();
        await proxy.close();
      }
    },
  );

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

/** How many socket writes `run` made to the server on `port` (through the proxy: this test's connection only). */
async function socketWrites(port: number, run: () => Promise<unknown>): Promise<number> {
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const original = { _write: proto._write, _writev: proto._writev };
  let writes = 0;
  for (const name of ['_write', '_writev'] as const) {
    proto[name] = function (this: Socket, ...args: unknown[]) {
      if (this.remotePort === port) writes++;
      return original[name].apply(this, args);
    };
  }
  try {
    await run();
  } finally {
    Object.assign(proto, original);
  }
  return writes;
}
