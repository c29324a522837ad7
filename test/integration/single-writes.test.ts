import { describe, expect } from 'vitest';
import { SingleWrites, type Derive } from '../../src/contacts/single-writes.js';
import { AppError, unprocessable } from '../../src/errors.js';
import { getContacts, type ChangeMeta, type StoredContact } from '../../src/store/contacts.js';
import { apiTest as test, createContacts, type TestApi } from '../helpers/api.js';
import { addRule, becomes, set } from '../helpers/automations.js';
import { countStatements } from '../../bench/count-statements.js';
import type { PgliteDb } from '../../src/store/pglite.js';
import { engine } from '../helpers/db.js';

/*
 * Single writes sharing a commit (src/contacts/single-writes.ts). A first write is held inside its
 * transaction (its derivation waits on a gate), so that the writes sent meanwhile are certain to
 * queue up and be written together as the next batch.
 */

const meta: ChangeMeta = { source: 'staff', actorType: 'operator', actorId: null };
const log = { error: () => undefined };
const coalesce = { quietMs: 60_000, maxMs: 60_000 };

const rename =
  (firstName: string): Derive =>
  async (before) => ({ after: { ...before, firstName }, operation: 'update' });

/** A SingleWrites whose first write stays in its transaction until `release()`. */
async function heldWrites(api: TestApi, heldContact: number) {
  const writes = new SingleWrites(api.db, coalesce, { maxInFlight: 1 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const inside = new Promise<void>((r) => (started = r));
  const held = writes.write({
    contactId: heldContact,
    meta,
    log,
    derive: async (before) => {
      started();
      await gate;
      return { after: { ...before, firstName: 'Held' }, operation: 'update' };
    },
  });
  await inside;
  return { writes, release, held };
}

async function history(api: TestApi, contactId: number) {
  const { rows } = await api.db.query<{ seq: number; at: Date }>(
    'SELECT seq, at FROM contact_history WHERE contact_id = $1 ORDER BY seq',
    [contactId],
  );
  return rows;
}

describe('single writes in a shared commit', () => {
  test('writes asked in one turn of the event loop share one commit, whether or not one could start alone', async ({
    api,
    tenant,
  }) => {
    // Each write asked from a callback of its own, as requests handled one after another are. On the
    // embedded engine a lone batch would run to its commit before the next callback; on PostgreSQL
    // each would take a free connection of its own.
    const ids = await createContacts(api, tenant.locA, 4);
    const writes = new SingleWrites(api.db, coalesce);
    const asked = ids.map(
      (id, i) =>
        new Promise<StoredContact>((resolve, reject) =>
          setImmediate(() =>
            writes.write({ contactId: id, meta, log, derive: rename(`T${i}`) }).then(resolve, reject),
          ),
        ),
    );
    expect((await Promise.all(asked)).map((c) => c.firstName)).toEqual(['T0', 'T1', 'T2', 'T3']);
    const commits = new Set<number>();
    for (const id of ids) commits.add((await history(api, id))[1]!.at.getTime());
    expect(commits.size).toBe(1);
  });

  test('a write refused while it is derived fails alone; the others commit together', async ({
    api,
    tenant,
  }) => {
    const [a, b, c, d] = await createContacts(api, tenant.locA, 4);
    const { writes, release, held } = await heldWrites(api, a!);
    const results = Promise.allSettled([
      writes.write({ contactId: b!, meta, log, derive: rename('B') }),
      writes.write({
        contactId: c!,
        meta,
        log,
        derive: async () => {
          throw unprocessable('firstName', 'refused for the test');
        },
      }),
      writes.write({ contactId: 987_654_321, meta, log, derive: rename('nobody') }),
      writes.write({ contactId: d!, meta, log, derive: rename('D') }),
    ]);
    release();
    await held;
    const [rb, rc, rmissing, rd] = await results;
    expect(rb).toMatchObject({ status: 'fulfilled', value: { contactId: b, firstName: 'B', seq: 2 } });
    expect(rd).toMatchObject({ status: 'fulfilled', value: { contactId: d, firstName: 'D', seq: 2 } });
    expect(rc.status === 'rejected' && rc.reason).toBeInstanceOf(AppError);
    expect(rc.status === 'rejected' && (rc.reason as AppError).status).toBe(422);
    expect(rmissing.status === 'rejected' && (rmissing.reason as AppError).status).toBe(404);
    // c: only its creation; b and d: one commit (history rows carry the transaction's now())
    expect((await history(api, c!)).map((r) => r.seq)).toEqual([1]);
    const [hb, hd] = [await history(api, b!), await history(api, d!)];
    expect(hb.map((r) => r.seq)).toEqual([1, 2]);
    expect(hb[1]!.at.getTime()).toBe(hd[1]!.at.getTime());
    expect((await api.get(`/api/contacts/${c}`)).body.firstName).toBe('C2');
  });

  test.for([
    // checked by its own statement before the write's
    {
      refused: 'a sub-group that does not exist',
      change: { subGroupId: 987_654 },
      status: 422,
      field: 'subGroupId',
    },
    // refused inside the statement that writes the batch's changes, history rows and windows
    {
      refused: 'an externalId another contact holds',
      change: { externalId: 'taken' },
      status: 409,
      field: 'externalId',
    },
  ])(
    'a write the database refuses ($refused) makes the batch be written one by one: it fails alone, the others commit',
    async ({ change, status, field }, { api, tenant }) => {
      const [a, b, c, d, e] = await createContacts(api, tenant.locA, 5);
      expect((await api.patch(`/api/contacts/${e}`, { externalId: 'taken' })).status).toBe(200);
      const { writes, release, held } = await heldWrites(api, a!);
      const results = Promise.allSettled([
        writes.write({ contactId: b!, meta, log, derive: rename('B') }),
        writes.write({
          contactId: c!,
          meta,
          log,
          derive: async (before: StoredContact) => ({
            after: { ...before, firstName: 'never', ...change },
            operation: 'update',
          }),
        }),
        writes.write({ contactId: d!, meta, log, derive: rename('D') }),
      ]);
      release();
      await held;
      const [rb, rc, rd] = await results;
      expect(rb).toMatchObject({ status: 'fulfilled', value: { firstName: 'B', seq: 2 } });
      expect(rd).toMatchObject({ status: 'fulfilled', value: { firstName: 'D', seq: 2 } });
      expect(rc.status === 'rejected' && (rc.reason as AppError).status).toBe(status);
      expect(rc.status === 'rejected' && (rc.reason as AppError).field).toBe(field);
      // nothing of c's write: its change, its history row, its window
      expect((await history(api, c!)).map((r) => r.seq)).toEqual([1]);
      expect((await api.get(`/api/contacts/${c}`)).body).toMatchObject({
        firstName: 'C2',
        subGroupId: null,
        externalId: null,
      });
      const { rows } = await api.db.query<{ last_seq: number }>(
        'SELECT last_seq FROM contact_windows WHERE contact_id = $1',
        [c],
      );
      expect(rows.map((r) => r.last_seq)).not.toContain(2);
      expect((await history(api, b!)).map((r) => r.seq)).toEqual([1, 2]);
      expect((await history(api, d!)).map((r) => r.seq)).toEqual([1, 2]);
    },
  );

  test('through the API: concurrent PATCHes, one taking an externalId another contact holds, fail only that one', async ({
    api,
    tenant,
  }) => {
    const ids = await createContacts(api, tenant.locA, 12);
    expect((await api.patch(`/api/contacts/${ids[0]}`, { externalId: 'taken' })).status).toBe(200);
    const answers = await Promise.all(
      ids.map((id, i) =>
        api.patch(`/api/contacts/${id}`, i === 5 ? { externalId: 'taken' } : { contactGroupId: 3 }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(ids.map((_, i) => (i === 5 ? 409 : 200)));
    expect(answers[5]!.body).toMatchObject({ error: { code: 'conflict', field: 'externalId' } });
    expect((await history(api, ids[5]!)).map((r) => r.seq)).toEqual([1]);
    for (const [i, id] of ids.entries()) {
      if (i === 5) continue;
      expect((await api.get(`/api/contacts/${id}`)).body.contactGroupId).toBe(3);
      expect((await history(api, id)).map((r) => r.seq)).toEqual(i === 0 ? [1, 2, 3] : [1, 2]);
    }
  });

  test("a batch whose writes change different fields sets each contact's own change and leaves every other field as it was", async ({
    api,
    tenant,
  }) => {
    // the batch's statement sends and sets only the columns its changes change (their union): a
    // contact whose own change is another column's must keep each of its values
    const full = {
      email: 'full@example.com',
      phone: '+15550100',
      tags: ['gold', 'early'],
      canSms: true,
      lastContactedAt: '2026-11-01T10:00:00.000Z',
      membershipType: 'annual',
      customFields: { shoe: 42, goal: 'strength' },
    };
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: `F${i}`, ...full }))
          .contactId,
      );
    }
    const changes: Partial<StoredContact>[] = [
      { email: 'new@example.com' },
      { tags: ['silver'] },
      { customFields: { shoe: 43, goal: 'strength' } },
      { customFields: { shoe: 42 } },
      { isActive: false },
    ];
    const writes = new SingleWrites(api.db, coalesce);
    const befores = new Map<number, StoredContact>();
    const written = await Promise.all(
      ids.map((id, i) =>
        writes.write({
          contactId: id,
          meta,
          log,
          derive: async (before) => {
            befores.set(id, before);
            return { after: { ...before, ...changes[i] }, operation: 'update' };
          },
        }),
      ),
    );
    const commits = new Set<number>();
    for (const id of ids) commits.add((await history(api, id))[1]!.at.getTime());
    expect(commits.size).toBe(1); // (one batch: what the test is about)
    const stored = await getContacts(api.db, ids);
    for (const [i, id] of ids.entries()) {
      const expected = { ...befores.get(id)!, ...changes[i], seq: befores.get(id)!.seq + 1 };
      const { updatedAt: _u, ...read } = stored.get(id)!;
      const { updatedAt: _e, ...want } = expected;
      expect(read, `contact ${i}`).toEqual(want);
      expect(written[i], `contact ${i}, as answered`).toMatchObject(want);
    }
  });

  test('a batch is one read and one write statement whatever its size: the changes, their history rows and windows, and the rules', async ({
    api,
    tenant,
  }) => {
    // a rule at the location (which renames do not trigger), so that the rules are read
    await addRule(api, tenant.locA, {
      trigger: becomes('contactGroupId', 3),
      action: set({ contactGroupId: 4 }),
    });
    const ids = await createContacts(api, tenant.locA, 6);
    const counted = countStatements(api.db);
    const writes = new SingleWrites(counted.db, coalesce);
    for (const batch of [ids.slice(0, 1), ids.slice(1)]) {
      // asked in one turn: one batch
      const written = await Promise.all(
        batch.map((id) => writes.write({ contactId: id, meta, log, derive: rename(`N${id}`) })),
      );
      expect(written.map((c) => [c.firstName, c.seq])).toEqual(batch.map((id) => [`N${id}`, 2]));
    }
    // the read of the contacts and their rules goes before the transaction on PostgreSQL, and opens
    // it on the embedded engine (see the next test)
    expect(counted.transactions).toHaveLength(2);
    for (const statements of counted.transactions) {
      expect(statements.at(-1)).toMatch(/^WITH written AS \(UPDATE contacts/);
      if (api.db.engine === 'postgres') expect(statements).toHaveLength(1);
      else {
        expect(statements).toHaveLength(2);
        expect(statements[0]).toMatch(/^WITH c AS \(/);
      }
    }
    for (const id of ids) expect((await history(api, id)).map((r) => r.seq)).toEqual([1, 2]);
    const { rows } = await api.db.query<{ contact_id: number; last_seq: number }>(
      'SELECT contact_id, last_seq FROM contact_windows WHERE contact_id = ANY($1::bigint[]) ORDER BY contact_id',
      [ids],
    );
    expect(rows).toEqual(ids.map((id) => ({ contact_id: id, last_seq: 2 })));
  });

  // A write waits behind at most one background transaction (a closing, a delivery completion) on the
  // embedded engine, whose one session runs a statement at a time: its batch's read and write go in
  // one turn of the engine's lock. Sent on its own, the read let a background transaction in between.
  test.runIf(engine === 'pglite')(
    "on the embedded engine, no background transaction runs between a batch's read and its write",
    async ({ api, tenant }) => {
      const [id] = await createContacts(api, tenant.locA, 1);
      const db = api.db as PgliteDb;
      const background = db.inBackground();
      // a background transaction holds the engine while the batch is asked and a second one waits
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const holding = background.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await gate;
      });
      const writes = new SingleWrites(db, coalesce);
      const written = writes.write({ contactId: id!, meta, log, derive: rename('After') });
      // the batch starts at the end of this turn of the event loop: its first statement is then waiting
      await new Promise((r) => setImmediate(r));
      const seen = background.transaction(async (tx) => {
        const { rows } = await tx.query<{ first_name: string }>(
          'SELECT first_name FROM contacts WHERE contact_id = $1',
          [id],
        );
        return rows[0]!.first_name;
      });
      release();
      await holding;
      expect((await written).firstName).toBe('After');
      // the waiting background transaction ran after the write, not between its read and itself
      expect(await seen).toBe('After');
    },
  );
});
