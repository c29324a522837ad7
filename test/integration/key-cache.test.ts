import { describe, expect } from 'vitest';
import { KeyCache } from '../../src/api/key-cache.js';
import { createApiKey, revokeApiKey } from '../../src/store/api-keys.js';
import type { Queryable } from '../../src/store/db.js';
import { createOrganization } from '../../src/store/tenants.js';
import { dbTest as test } from '../helpers/db.js';

/** `q`, with the statements it was asked to run counted (the store answers each for real). */
function counted(q: Queryable): {
  q: Queryable;
  reads: () => number;
  /** the latest statement's run in the store, done (its answer may still be held) */
  ran: () => Promise<unknown>;
  /** holds the next statement's answer until the returned function is called */
  hold: () => () => void;
} {
  let reads = 0;
  let latest: Promise<unknown> = Promise.resolve();
  // the next statement's answer waits for the release, once held
  let gate: Promise<void> | undefined;
  return {
    q: {
      query: async (text, params) => {
        reads++;
        const held = gate;
        gate = undefined;
        const run = q.query(text, params);
        latest = run.catch(() => undefined);
        const answer = await run;
        await held;
        return answer;
      },
    } as Queryable,
    reads: () => reads,
    ran: () => latest,
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return release;
    },
  };
}

/** A new organization's staff key. */
async function staffKey(db: Queryable) {
  const org = await createOrganization(db, 'Gym');
  return createApiKey(db, { role: 'staff', organizationId: org.id, locationId: null, description: null });
}

describe('the API key cache', () => {
  test('requests that miss the cache together read the key once', async ({ db }) => {
    const { key, id } = await staffKey(db);
    const store = counted(db);
    const cache = new KeyCache();
    // 64 requests with the key arrive while it is not cached (a busy client after the TTL ran out)
    const asked = Array.from({ length: 64 }, () => cache.principal(store.q, key));
    const principals = await Promise.all(asked);
    expect(store.reads()).toBe(1);
    expect(new Set(principals.map((p) => p?.kind === 'api_key' && p.keyId))).toEqual(new Set([id]));
    // and the answer is kept: the next one reads nothing
    await cache.principal(store.q, key);
    expect(store.reads()).toBe(1);
  });

  test('a lookup after a revocation reads the store again, not the read begun before it', async ({ db }) => {
    const { key, id } = await staffKey(db);
    const store = counted(db);
    const cache = new KeyCache();
    const releaseBefore = store.hold();
    const before = cache.principal(store.q, key);
    // revoked through this process once that read has found the key, before its answer is back:
    // the cache is cleared
    await store.ran();
    await revokeApiKey(db, id);
    cache.clear();
    const after = cache.principal(store.q, key);
    expect(await after).toBeUndefined();
    expect(store.reads()).toBe(2);
    releaseBefore();
    // the read begun before the revocation answers as the store stood then, but what it found is
    // not kept: the next lookup reads again and is refused
    expect((await before)?.kind).toBe('api_key');
    expect(await cache.principal(store.q, key)).toBeUndefined();
    expect(store.reads()).toBe(3);
  });

  test('a failed read fails the lookups waiting on it, and the next lookup reads again', async ({ db }) => {
    const { key, id } = await staffKey(db);
    let fail = true;
    let reads = 0;
    const flaky: Queryable = {
      query: async (text, params) => {
        reads++;
        await Promise.resolve();
        if (fail) throw new Error('connection lost');
        return db.query(text, params);
      },
    };
    const cache = new KeyCache();
    const outcomes = await Promise.allSettled([cache.principal(flaky, key), cache.principal(flaky, key)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(reads).toBe(1);
    fail = false;
    const p = await cache.principal(flaky, key);
    expect(p?.kind === 'api_key' && p.keyId).toBe(id);
    expect(reads).toBe(2);
  });

  test('an unknown key is read every time, never kept', async ({ db }) => {
    const store = counted(db);
    const cache = new KeyCache();
    expect(await cache.principal(store.q, 'fpt_staff_nope')).toBeUndefined();
    expect(await cache.principal(store.q, 'fpt_staff_nope')).toBeUndefined();
    expect(store.reads()).toBe(2);
  });
});
