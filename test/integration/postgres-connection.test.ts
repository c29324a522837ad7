import { describe, expect } from 'vitest';
import { dbTest as test, engine } from '../helpers/db.js';

// Found by the PostgreSQL restart drill (drills/pg-restart.ts): a server restart terminates every
// session; a connection checked out for a transaction that got the server's "terminating
// connection" while it waited between statements raised an unhandled 'error' event, and the whole
// process exited.
describe('PostgreSQL connections lost mid-transaction', () => {
  test.runIf(engine === 'postgres')(
    'a transaction whose session the server ends fails, the process lives on, and the pool recovers',
    async ({ db }) => {
      const outcome = db.transaction(async (tx) => {
        const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        const pid = rows[0]!.pid;
        await db.query('SELECT pg_terminate_backend($1)', [pid]);
        // wait until the session is gone: its "terminating connection" message has been sent to
        // this idle, checked-out connection, which reads it while this loop awaits
        for (;;) {
          const alive = await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
          if (alive.rowCount === 0) break;
        }
        await db.query('SELECT pg_sleep(0.05)'); // a few more round trips for the socket to be read
        await tx.query('SELECT 1');
      });
      await expect(outcome).rejects.toThrow();
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    },
  );
});
