import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { SentAhead, type Db, type Tx } from '../../src/store/db.js';
import { apiTest, testConfig } from '../helpers/api.js';
import { dbTest } from '../helpers/db.js';
import { deliverySettings } from '../helpers/delivery.js';

// local http:// endpoints allowed; nothing is sent (the closer's hand-off is only recorded)
const closerTest = apiTest.extend({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  apiConfig: async ({}, use) => {
    await use(testConfig({ delivery: deliverySettings() }));
  },
});

// Statements of one transaction sent without waiting for each other's answers (SentAhead,
// src/store/db.ts): the closer sends its subscriptions' read, its events' lock and insert, and its
// windows' deletion together (docs/design.md, "Statements sent ahead").
describe('statements sent ahead', () => {
  dbTest(
    'all commit together, and the first to fail is the error, without unhandled rejections',
    async ({ db }) => {
      await db.query('CREATE TABLE ahead (id int PRIMARY KEY)');
      await db.query('INSERT INTO ahead VALUES (1)');
      const unhandled: unknown[] = [];
      const onUnhandled = (err: unknown) => unhandled.push(err);
      process.on('unhandledRejection', onUnhandled);
      try {
        await db.transaction(async (tx) => {
          const ahead = new SentAhead();
          for (const id of [2, 3, 4]) void ahead.add(tx.query('INSERT INTO ahead VALUES ($1)', [id]));
          await ahead.settled();
        });
        expect((await db.query('SELECT count(*)::int AS n FROM ahead')).rows).toEqual([{ n: 4 }]);

        const err = await db
          .transaction(async (tx) => {
            const ahead = new SentAhead();
            void ahead.add(tx.query('INSERT INTO ahead VALUES (5)'));
            void ahead.add(tx.query('INSERT INTO ahead VALUES (1)')); // taken: this one fails
            // sent behind the failure, so it fails only because of it (25P02 on PostgreSQL)
            const behind = ahead.add(tx.query('SELECT count(*)::int AS n FROM ahead'));
            try {
              await behind;
            } catch (e) {
              throw await ahead.failedFirst(e);
            }
          })
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ code: '23505' });
        expect((await db.query('SELECT count(*)::int AS n FROM ahead')).rows).toEqual([{ n: 4 }]);
        await new Promise((r) => setImmediate(r));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    },
  );

  closerTest(
    "the closer sends its events' insert, its subscriptions' read and its windows' deletion before any of their answers",
    async ({ db, api, tenant }) => {
      await api.create('/api/subscriptions', { url: 'http://127.0.0.1:9999/hooks', locationId: tenant.locA });
      for (let i = 0; i < 3; i++) await api.create(`/api/locations/${tenant.locA}/contacts`, {});
      const log: string[] = [];
      const closed = await closeDueWindows(recording(db, log), {
        limit: 100,
        horizonMs: 86_400_000,
        handOff: { choose: (chains) => chains.keys(), leaseMs: 60_000, workerId: undefined },
      });
      expect(closed).toMatchObject({ windows: 3, events: 3, deliveries: 3 });
      const at = (what: 'sent' | 'answered', text: RegExp) => {
        const i = log.findIndex((l) => l.startsWith(what) && text.test(l));
        expect(i, `${what} ${String(text)}`).toBeGreaterThanOrEqual(0);
        return i;
      };
      const ahead = [
        /FROM subscriptions s/,
        /pg_advisory_xact_lock/,
        /INSERT INTO events/,
        /DELETE FROM contact_windows/,
      ];
      const firstAnswer = Math.min(...ahead.map((t) => at('answered', t)));
      for (const t of ahead) expect(at('sent', t), String(t)).toBeLessThan(firstAnswer);
      // and what was closed is all there, once
      const count = async (table: string) =>
        (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
      expect([await count('events'), await count('deliveries'), await count('contact_windows')]).toEqual([
        3, 3, 0,
      ]);
    },
  );
});

/** `db`, with each transaction statement's sending and answer noted in `log`, in the order they happen. */
function recording(db: Db, log: string[]): Db {
  const wrap = (tx: Tx): Tx => ({
    get indexLookupsOnly() {
      return tx.indexLookupsOnly;
    },
    restrictToIndexLookups: () => tx.restrictToIndexLookups(),
    query: async <R extends object>(text: string, params?: readonly unknown[]) => {
      log.push(`sent ${text}`);
      try {
        return await tx.query<R>(text, params);
      } finally {
        log.push(`answered ${text}`);
      }
    },
    exec: (script) => tx.exec(script),
    notify: (channel) => tx.notify(channel),
  });
  return {
    engine: db.engine,
    query: (text, params) => db.query(text, params),
    transaction: (fn, options) => db.transaction((tx) => fn(wrap(tx)), options),
    listen: (channel, onSignal) => db.listen(channel, onSignal),
    ping: () => db.ping(),
    close: () => db.close(),
  };
}
