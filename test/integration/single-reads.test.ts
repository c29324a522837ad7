import { describe, expect } from 'vitest';
import { SingleReads } from '../../src/contacts/single-reads.js';
import type { StoredContact } from '../../src/store/contacts.js';
import type { Queryable } from '../../src/store/db.js';
import { apiTest as test, createContacts, type TestApi } from '../helpers/api.js';

/*
 * Single contact reads grouped into shared statements (src/contacts/single-reads.ts), on the real
 * store. The statements are counted by a Queryable that passes every query on to the store.
 */

/** The store, with the statements sent through it counted (and the first one held until `release`). */
function counted(api: TestApi) {
  let statements = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let sent!: () => void;
  const firstOut = new Promise<void>((r) => (sent = r));
  const q: Queryable = {
    query: async (text, params) => {
      statements++;
      if (statements === 1) {
        sent();
        await gate;
      }
      return api.db.query(text, params);
    },
  };
  return { q, release, firstOut, statements: () => statements };
}

describe('single reads in a shared statement', () => {
  test('reads asked while a statement is out go together in the next one, each answered with its own contact', async ({
    api,
    tenant,
  }) => {
    const ids = await createContacts(api, tenant.locA, 5);
    const store = counted(api);
    const reads = new SingleReads(store.q, 1);
    const first = reads.get(ids[0]!);
    await store.firstOut;
    // asked while the first statement is out: one of them twice, and one that does not exist
    const rest = Promise.all([...ids.slice(1), ids[1]!, 987_654_321].map((id) => reads.get(id)));
    store.release();
    expect((await first)?.firstName).toBe('C0');
    const got = await rest;
    expect(got.map((c) => c?.firstName)).toEqual(['C1', 'C2', 'C3', 'C4', 'C1', undefined]);
    expect(got.map((c) => c?.contactId)).toEqual([...ids.slice(1), ids[1], undefined]);
    expect(store.statements()).toBe(2);
  });

  test('reads asked in one turn of the event loop share one statement, whether or not one could go alone', async ({
    api,
    tenant,
  }) => {
    const ids = await createContacts(api, tenant.locA, 4);
    let statements = 0;
    const q: Queryable = {
      query: (text, params) => {
        statements++;
        return api.db.query(text, params);
      },
    };
    const reads = new SingleReads(q);
    // each asked from a callback of its own, as requests handled one after another are
    const asked = ids.map(
      (id) =>
        new Promise<StoredContact | undefined>((resolve, reject) =>
          setImmediate(() => reads.get(id).then(resolve, reject)),
        ),
    );
    expect((await Promise.all(asked)).map((c) => c?.contactId)).toEqual(ids);
    expect(statements).toBe(1);
  });

  test('a lone read goes at once, and sees a write answered before it was asked', async ({ api, tenant }) => {
    const [id] = await createContacts(api, tenant.locA, 1);
    const reads = new SingleReads(api.db);
    expect((await reads.get(id!))?.firstName).toBe('C0');
    expect((await api.patch(`/api/contacts/${id}`, { firstName: 'Changed' })).status).toBe(200);
    expect((await reads.get(id!))?.firstName).toBe('Changed');
  });

  test('a statement that fails fails the reads it carried, and the next reads are answered', async ({
    api,
    tenant,
  }) => {
    const [a, b] = await createContacts(api, tenant.locA, 2);
    let fail = true;
    const q: Queryable = {
      query: (text, params) =>
        api.db.query(fail ? text.replace('FROM contacts', 'FROM no_such_table') : text, params),
    };
    const reads = new SingleReads(q, 1);
    const failed = await Promise.allSettled([reads.get(a!), reads.get(b!)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect((await reads.get(b!))?.firstName).toBe('C1');
  });

  test('GET /api/contacts/{id} answers concurrent reads each with its own contact, and 404 outside the caller scope', async ({
    api,
    tenant,
  }) => {
    const mine = await createContacts(api, tenant.locA, 20);
    const [theirs] = await createContacts(api, tenant.locB, 1);
    const key = tenant.keys.locAStaff;
    const answers = await Promise.all(
      [...mine, theirs!, 987_654_321].map((id) => api.get(`/api/contacts/${id}`, { key })),
    );
    expect(answers.map((r) => r.status)).toEqual([...mine.map(() => 200), 404, 404]);
    expect(answers.slice(0, 20).map((r) => (r.body as { contactId: number }).contactId)).toEqual(mine);
  });
});
