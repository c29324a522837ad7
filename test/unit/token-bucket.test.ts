import { describe, expect, test } from 'vitest';
import { TokenBuckets } from '../../src/api/token-bucket.js';

/** Buckets on a clock the test moves by hand. */
function buckets(perSecond: number, burst: number) {
  let now = 0;
  const b = new TokenBuckets(perSecond, burst, () => now);
  return { b, advance: (ms: number) => (now += ms) };
}

describe('token buckets', () => {
  test('a burst goes through, the next is refused until a token has refilled', () => {
    const { b, advance } = buckets(10, 20);
    for (let i = 0; i < 20; i++) expect(b.take('k').allowed).toBe(true);
    const refused = b.take('k');
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 1, resetSeconds: 2 });
    advance(99);
    expect(b.take('k').allowed).toBe(false);
    advance(1);
    expect(b.take('k')).toMatchObject({ allowed: true, remaining: 0 });
    // at the rate, one every 100 ms keeps going through
    for (let i = 0; i < 50; i++) {
      advance(100);
      expect(b.take('k').allowed).toBe(true);
    }
  });

  test('keys are independent; a bucket refills to its burst and no further', () => {
    const { b, advance } = buckets(1, 2);
    expect(b.take('a').allowed).toBe(true);
    expect(b.take('a').allowed).toBe(true);
    expect(b.take('a').allowed).toBe(false);
    expect(b.take('b').allowed).toBe(true);
    advance(3_600_000);
    expect(b.take('a').remaining).toBe(1);
    expect(b.peek('a')).toMatchObject({ allowed: true, remaining: 1 });
  });

  test('a slow rate says how long to wait', () => {
    const { b } = buckets(1 / 30, 2);
    b.take('k');
    b.take('k');
    expect(b.take('k')).toMatchObject({ allowed: false, retryAfterSeconds: 30, resetSeconds: 60 });
  });

  test('buckets that have refilled are forgotten once there are many', () => {
    const { b, advance } = buckets(1, 1);
    for (let i = 0; i < 10_000; i++) b.take(`k${i}`);
    expect(b.size).toBe(10_000);
    advance(1000);
    b.take('new');
    expect(b.size).toBe(1);
  });
});
