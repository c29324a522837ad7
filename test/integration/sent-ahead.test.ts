import { describe, expect } from 'vitest';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { SingleWrites } from '../../src/contacts/single-writes.js';
import { SentAhead, type Db, type Tx } from '../../src/store/db.js';
import { aroundStatements } from '../helpers/interleave.js';
import { apiTest, createContacts, testConfig } from '../helpers/api.js';
import { addRule, becomes, set } from '../helpers/automations.js';
import { dbTest, engine } from '../helpers/db.js';
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

describe('single writes sent ahead of their COMMIT', () => {
  const meta = { source: 'staff' as const, actorType: 'operator' as const, actorId: null };
  const log = { error: () => undefined };
  const coalesce = { quietMs: 60_000, maxMs: 60_000 };

  apiTest(
    "a batch with no rule to follow returns from its transaction (its COMMIT goes) before its write's answer",
    async ({ db, api, tenant }) => {
      const ids = await createContacts(api, tenant.locA, 3);
      const events: string[] = [];
      const writes = new SingleWrites(recording(db, events), coalesce);
      const written = await Promise.all(
        ids.map((id) =>
          writes.write({
            contactId: id,
            meta,
            log,
            derive: async (before) => ({ after: { ...before, firstName: `A${id}` }, operation: 'update' }),
          }),
        ),
      );
      expect(written.map((c) => [c.firstName, c.seq])).toEqual(ids.map((id) => [`A${id}`, 2]));
      const answered = events.findIndex((e) => e.startsWith('answered WITH written'));
      expect(events.indexOf('returned')).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('returned')).toBeLessThan(answered);
    },
  );

  apiTest(
    'with a rule at the location, the write is answered before the transaction returns',
    async ({ db, api, tenant }) => {
      await addRule(api, tenant.locA, {
        trigger: becomes('contactGroupId', 3),
        action: set({ contactGroupId: 4 }),
      });
      const [id] = await createContacts(api, tenant.locA, 1);
      const events: string[] = [];
      const writes = new SingleWrites(recording(db, events), coalesce);
      const after = await writes.write({
        contactId: id!,
        meta,
        log,
        derive: async (before) => ({ after: { ...before, contactGroupId: 3 }, operation: 'update' }),
      });
      // the rule ran in the same transaction, after the write's answer
      expect(after.contactGroupId).toBe(4);
      const answered = events.findIndex((e) => e.startsWith('answered WITH written'));
      expect(answered).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('returned')).toBeGreaterThan(answered);
    },
  );

  // PostgreSQL only: on the embedded engine a batch's read and write are one turn of the engine's
  // lock, so no other writer can commit in between (single-writes.test.ts checks that); this test's
  // other writer, asked from inside the derivation, would wait for that turn forever.
  apiTest.runIf(engine === 'postgres')(
    'a write whose contact moved between its read and its write is written again, on the state that moved it',
    async ({ db, api, tenant }) => {
      const [id] = await createContacts(api, tenant.locA, 1);
      const writes = new SingleWrites(db, coalesce);
      let derivations = 0;
      const after = await writes.write({
        contactId: id!,
        meta,
        log,
        derive: async (before) => {
          derivations++;
          // the first time, another writer commits a change of the contact after it was read
          if (derivations === 1)
            expect((await api.patch(`/api/contacts/${id}`, { lastName: 'Other' })).status).toBe(200);
          return { after: { ...before, firstName: 'Mine' }, operation: 'update' };
        },
      });
      expect(derivations).toBe(2);
      expect(after).toMatchObject({ firstName: 'Mine', lastName: 'Other', seq: 3 });
      const { rows } = await db.query<{ seq: number }>(
        'SELECT seq FROM contact_history WHERE contact_id = $1 ORDER BY seq',
        [id],
      );
      expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
      expect((await api.get(`/api/contacts/${id}`)).body).toMatchObject({
        firstName: 'Mine',
        lastName: 'Other',
      });
    },
  );

  dbTest('a statement sent after its transaction returned is refused, not run outside it', async ({ db }) => {
    await db.query('CREATE TABLE late (id int)');
    let kept: Tx | undefined;
    await db.transaction(async (tx) => {
      kept = tx;
      await tx.query('INSERT INTO late VALUES (1)');
    });
    const late = kept!.query('INSERT INTO late VALUES (2)');
    await expect(late).rejects.toThrow('statement sent after its transaction ended');
    expect((await db.query('SELECT id FROM late')).rows).toEqual([{ id: 1 }]);
  });
});

/**
 * `db`, with each statement's sending and answer noted in `log`, in the order they happen, and
 * `returned` when a transaction's body has returned (its COMMIT goes then).
 */
function recording(db: Db, log: string[]): Db {
  const noted = aroundStatements(db, async (text, run) => {
    log.push(`sent ${text}`);
    try {
      return await run();
    } finally {
      log.push(`answered ${text}`);
    }
  });
  return {
    ...noted,
    transaction: (fn, options) =>
      noted.transaction(async (tx) => {
        const result = await fn(tx);
        log.push('returned');
        return result;
      }, options),
  };
}
