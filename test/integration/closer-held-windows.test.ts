import { describe, expect } from 'vitest';
import { startCoalescer } from '../../src/events/runner.js';
import { createLogger } from '../../src/log.js';
import type { Db } from '../../src/store/db.js';
import { apiTest as test, createTenant, createTestApi, testConfig } from '../helpers/api.js';
import { engine } from '../helpers/db.js';
import { intercepting } from '../helpers/intercept.js';
import { waitFor } from '../helpers/events.js';

// A due window that another transaction holds (a writer extending it, another process's closer)
// is skipped by the closer's claim. The closer used to ask again at once, and again, claiming
// nothing, for as long as that transaction lasted; it now waits for the writer's signal
// (src/events/runner.ts, `afterClose`). Only PostgreSQL has another session to hold a lock.

/** `db`, counting the closer's claims of due windows in `claims.n`. */
const countingClaims = (db: Db, claims: { n: number }): Db =>
  intercepting(db, (tx, text, params) => {
    if (/FROM contact_windows WHERE close_at <=[\s\S]*SKIP LOCKED/.test(text)) claims.n++;
    return tx.query(text, params);
  });

describe('the closer and windows another transaction holds', () => {
  test.runIf(engine === 'postgres')(
    'does not ask again for a held due window until the holder signals, then closes it',
    async ({ testDb }) => {
      const api = createTestApi(testDb.db, testConfig({ coalesce: { quietMs: 0, maxMs: 0 } }));
      const t = await createTenant(api);
      await api.create(`/api/locations/${t.locA}/contacts`, { firstName: 'Held' });
      const holder = testDb.openAnother();
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      const holding = holder.transaction(async (tx) => {
        const { rows } = await tx.query('SELECT contact_id FROM contact_windows FOR UPDATE');
        expect(rows).toHaveLength(1);
        locked();
        await released;
        // as a writer extending the window would: its commit signals the closers
        await tx.query('UPDATE contact_windows SET last_change_at = last_change_at');
        await tx.notify('windows');
      });
      await isLocked;
      const claims = { n: 0 };
      const coalescer = await startCoalescer(
        countingClaims(testDb.db, claims),
        createLogger('silent'),
        undefined,
        undefined,
        undefined,
        { heldRetryMs: 3_600_000 },
      );
      try {
        await waitFor(async () => (claims.n >= 1 ? true : undefined), 'the first claim');
        // plenty of turns for a closer that asks again at once (it used to, hundreds of times)
        for (let i = 0; i < 20; i++) await testDb.db.query('SELECT 1');
        expect(claims.n).toBe(1);
        release();
        await holding;
        await waitFor(async () => {
          const { rows } = await testDb.db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM contact_windows',
          );
          return rows[0]!.n === 0 ? true : undefined;
        }, 'the window closed once its holder committed');
        expect(claims.n).toBe(2);
      } finally {
        release();
        await holding.catch(() => undefined);
        await coalescer.stop();
        await holder.close();
        await api.app.close();
      }
    },
  );
});
