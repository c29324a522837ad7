import { describe, expect, test } from 'vitest';
import { MemoryDedupeStore } from '@fpt/webhooks';

describe('MemoryDedupeStore', () => {
  test('only the first claim of an id wins, concurrent ones included', async () => {
    const store = new MemoryDedupeStore();
    const results = await Promise.all([1, 2, 3].map(() => store.claim('a', 1000)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.claim('b', 1000)).toBe(true);
  });

  test('a claim expires after its TTL, and a released claim can be taken again', async () => {
    let now = 0;
    const store = new MemoryDedupeStore({ now: () => now });
    expect(await store.claim('a', 1000)).toBe(true);
    now = 999;
    expect(await store.claim('a', 1000)).toBe(false);
    now = 1000;
    expect(await store.claim('a', 1000)).toBe(true);
    await store.release('a');
    expect(await store.claim('a', 1000)).toBe(true);
  });

  test('expired claims are dropped, and beyond maxEntries the oldest claims are forgotten', async () => {
    let now = 0;
    const store = new MemoryDedupeStore({ now: () => now, maxEntries: 2 });
    await store.claim('a', 10);
    await store.claim('b', 10);
    await store.claim('c', 10);
    expect(store.size).toBe(2);
    expect(await store.claim('a', 10)).toBe(true);
    now = 20;
    expect(store.size).toBe(0);
  });

  test('maxEntries must be a positive integer', () => {
    expect(() => new MemoryDedupeStore({ maxEntries: 0 })).toThrow(RangeError);
  });
});
