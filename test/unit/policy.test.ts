import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_RETRY_SCHEDULE,
  decide,
  parseDuration,
  parseRetryAfter,
  parseRetrySchedule,
  withJitter,
} from '../../src/delivery/policy.js';
import type { AttemptResult, Decision } from '../../src/delivery/policy.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const SCHEDULE = parseRetrySchedule(DEFAULT_RETRY_SCHEDULE);
/** random() = 0.5 is the middle of the jitter range: the scheduled delay itself */
const middle = () => 0.5;

describe('parseDuration', () => {
  test.each([
    ['250ms', 250],
    ['5s', 5_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['0s', 0],
    [' 30m ', 1_800_000],
  ])('%j is %d ms', (s, ms) => {
    expect(parseDuration(s)).toBe(ms);
  });

  test.each(['', '5', 's', '1.5s', '-5s', '5 s', '5S', '5sec', '5w', '1e3ms', 'abc'])(
    'rejects %j with a message naming it',
    (s) => {
      expect(() => parseDuration(s)).toThrow(`bad duration "${s}": expected a whole number and a unit`);
    },
  );
});

describe('parseRetrySchedule', () => {
  test('the default schedule is 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    expect(parseRetrySchedule(DEFAULT_RETRY_SCHEDULE)).toEqual([
      5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000,
    ]);
  });

  test('spaces around entries are allowed and a single entry is a schedule', () => {
    expect(parseRetrySchedule(' 1s , 250ms,2m ')).toEqual([1000, 250, 120000]);
    expect(parseRetrySchedule('10s')).toEqual([10000]);
  });

  test.each([
    ['', /empty: list at least one delay/],
    ['   ', /empty: list at least one delay/],
    ['5s,,5m', /entry 2 is empty/],
    ['5s,', /entry 2 is empty/],
    ['5s,0m', /entry 2 \("0m"\) must be above zero/],
    ['5s,5x', /entry 2: bad duration "5x"/],
  ])('rejects %j with a clear message', (s, message) => {
    expect(() => parseRetrySchedule(s)).toThrow(message);
  });
});

describe('withJitter', () => {
  test('takes a delay of 0 or more and a fraction from 0 to 1, and refuses anything else', () => {
    expect(withJitter(0, () => 0)).toBe(0);
    expect(withJitter(10_000, () => 0, 0)).toBe(10_000);
    expect(withJitter(10_000, () => 0, 1)).toBe(0);
    for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => withJitter(ms)).toThrow(`withJitter: bad delay ${ms}`);
    for (const fraction of [-0.01, 1.01, Number.NaN])
      expect(() => withJitter(1000, Math.random, fraction)).toThrow(`withJitter: bad fraction ${fraction}`);
  });

  test('spans ±20% from the lowest to the highest random value', () => {
    expect(withJitter(10_000, () => 0)).toBe(8_000);
    expect(withJitter(10_000, () => 0.5)).toBe(10_000);
    expect(withJitter(10_000, () => 0.999999999)).toBe(12_000);
    expect(withJitter(10_000, () => 0.25, 0.5)).toBe(7_500);
  });

  test('always stays within ±20% of the delay, in whole milliseconds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 * 86_400_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (ms, r) => {
          const jittered = withJitter(ms, () => r);
          expect(Number.isInteger(jittered)).toBe(true);
          expect(jittered).toBeGreaterThanOrEqual(ms * 0.8);
          expect(jittered).toBeLessThanOrEqual(ms * 1.2);
        },
      ),
    );
  });

  test('spreads delays across the range rather than clustering them', () => {
    const values = Array.from({ length: 2000 }, () => withJitter(1_000_000));
    expect(Math.min(...values)).toBeLessThan(820_000);
    expect(Math.max(...values)).toBeGreaterThan(1_180_000);
  });
});

describe('parseRetryAfter', () => {
  test.each<[string | undefined, number | undefined]>([
    [undefined, undefined],
    ['', undefined],
    ['120', 120_000],
    [' 0 ', 0],
    ['-5', 0],
    ['1.5', undefined],
    ['soon', undefined],
    ['Wed, 15 Jan 2025 12:02:00 GMT', 120_000],
    ['Wednesday, 15-Jan-25 12:00:30 GMT', 30_000],
    // a two-digit year more than 50 years ahead is the last past year with those digits
    ['Wednesday, 15-Jan-99 12:00:00 GMT', 0],
    ['Wednesday, 15-Jan-75 12:00:00 GMT', Date.UTC(2075, 0, 15, 12) - NOW],
    ['Wed Jan 15 12:01:00 2025', 60_000],
    ['Wed Jan  5 12:00:00 2025', 0],
    ['Tue, 14 Jan 2025 12:00:00 GMT', 0],
    ['Wed, 15 Jan 2025 12:02:00 UTC', undefined],
    ['Fri, 31 Feb 2025 12:00:00 GMT', undefined],
    ['Wed, 15 Jan 2025 25:00:00 GMT', undefined],
    ['Wed, 15 Jan 2025 24:00:00 GMT', undefined],
    ['Wed, 15 Jan 2025 12:60:00 GMT', undefined],
    ['Wed, 15 Jan 2025 12:00:61 GMT', undefined],
    ['Wed, 15 Jan 2025 23:59:59 GMT', 43_199_000],
    ['Wed, 15 Jan 2025 12:00:60 GMT', 59_000], // a leap second, read as :59
    ['2025-01-15T12:02:00Z', undefined],
  ])('%j is %s ms from now', (header, ms) => {
    expect(parseRetryAfter(header, NOW)).toBe(ms);
  });
});

describe('decide', () => {
  const response = (status: number, retryAfter?: string): AttemptResult =>
    retryAfter === undefined ? { kind: 'response', status } : { kind: 'response', status, retryAfter };

  test.each<[string, AttemptResult, number, Decision]>([
    ['a 200 succeeds', response(200), 1, { action: 'succeeded' }],
    ['a 204 succeeds', response(204), 3, { action: 'succeeded' }],
    ['a 2xx on the last attempt still succeeds', response(299), 8, { action: 'succeeded' }],
    ['a 301 is a failure: redirects are not followed', response(301), 1, { action: 'retry', delayMs: 5_000 }],
    ['a 300 is not a success', response(300), 1, { action: 'retry', delayMs: 5_000 }],
    ['a 199 is not a success', response(199), 1, { action: 'retry', delayMs: 5_000 }],
    ['a 400 is retried on the schedule', response(400), 2, { action: 'retry', delayMs: 300_000 }],
    ['a 404 is retried on the schedule', response(404), 3, { action: 'retry', delayMs: 1_800_000 }],
    ['a 500 is retried on the schedule', response(500), 1, { action: 'retry', delayMs: 5_000 }],
    ['a 502 is retried on the schedule', response(502), 7, { action: 'retry', delayMs: 36_000_000 }],
    [
      'a 410 disables the endpoint',
      response(410),
      1,
      { action: 'disable', reason: 'endpoint answered 410 Gone' },
    ],
    [
      'a 410 disables the endpoint even after the schedule',
      response(410),
      8,
      { action: 'disable', reason: 'endpoint answered 410 Gone' },
    ],
    ['a 429 without Retry-After follows the schedule', response(429), 1, { action: 'retry', delayMs: 5_000 }],
    [
      'a 429 with Retry-After seconds waits that long',
      response(429, '120'),
      1,
      { action: 'retry', delayMs: 120_000 },
    ],
    [
      'a 503 with an HTTP-date Retry-After waits until then',
      response(503, 'Wed, 15 Jan 2025 12:10:00 GMT'),
      2,
      { action: 'retry', delayMs: 600_000 },
    ],
    ['a Retry-After below 1 s is raised to 1 s', response(429, '0'), 1, { action: 'retry', delayMs: 1_000 }],
    [
      'a Retry-After date in the past is raised to 1 s',
      response(503, 'Tue, 14 Jan 2025 12:00:00 GMT'),
      1,
      { action: 'retry', delayMs: 1_000 },
    ],
    [
      'a Retry-After beyond 24 h is cut to 24 h',
      response(429, String(3 * 86_400)),
      1,
      { action: 'retry', delayMs: 86_400_000 },
    ],
    [
      'an unreadable Retry-After follows the schedule',
      response(503, 'later'),
      2,
      { action: 'retry', delayMs: 300_000 },
    ],
    ['Retry-After on a 500 is ignored', response(500, '120'), 1, { action: 'retry', delayMs: 5_000 }],
    [
      'a network error is retried on the schedule',
      { kind: 'error', error: 'ECONNREFUSED' },
      4,
      { action: 'retry', delayMs: 7_200_000 },
    ],
    [
      'a 500 after the last scheduled delay fails',
      response(500),
      8,
      { action: 'failed', reason: 'retry schedule exhausted after 8 attempts; last status: HTTP 500' },
    ],
    [
      'a network error after the last scheduled delay fails',
      { kind: 'error', error: 'timed out after 30 s' },
      8,
      {
        action: 'failed',
        reason: 'retry schedule exhausted after 8 attempts; last error: timed out after 30 s',
      },
    ],
    [
      'a 429 with Retry-After after the last scheduled delay fails',
      response(429, '5'),
      8,
      { action: 'failed', reason: 'retry schedule exhausted after 8 attempts; last status: HTTP 429' },
    ],
    [
      'a redirect after the last scheduled delay fails and says redirects are not followed',
      response(302),
      8,
      {
        action: 'failed',
        reason:
          'retry schedule exhausted after 8 attempts; last status: HTTP 302 (redirects are not followed)',
      },
    ],
    [
      'a 300 after the last scheduled delay says redirects are not followed',
      response(300),
      8,
      {
        action: 'failed',
        reason:
          'retry schedule exhausted after 8 attempts; last status: HTTP 300 (redirects are not followed)',
      },
    ],
    [
      'a 400 after the last scheduled delay is not called a redirect',
      response(400),
      8,
      { action: 'failed', reason: 'retry schedule exhausted after 8 attempts; last status: HTTP 400' },
    ],
  ])('%s', (_name, result, attempt, decision) => {
    expect(decide({ result, attempt, schedule: SCHEDULE, nowMs: NOW, random: middle })).toEqual(decision);
  });

  test('an empty schedule fails after the first attempt', () => {
    expect(decide({ result: response(500), attempt: 1, schedule: [], nowMs: NOW })).toEqual({
      action: 'failed',
      reason: 'retry schedule exhausted after 1 attempt; last status: HTTP 500',
    });
  });

  test('scheduled retries are jittered but Retry-After is honoured exactly', () => {
    const low = () => 0;
    expect(
      decide({ result: response(500), attempt: 1, schedule: SCHEDULE, nowMs: NOW, random: low }),
    ).toEqual({
      action: 'retry',
      delayMs: 4_000,
    });
    expect(
      decide({ result: response(429, '60'), attempt: 1, schedule: SCHEDULE, nowMs: NOW, random: low }),
    ).toEqual({ action: 'retry', delayMs: 60_000 });
  });

  test('an attempt number below 1 is a programming error', () => {
    expect(() => decide({ result: response(500), attempt: 0, schedule: SCHEDULE, nowMs: NOW })).toThrow(
      /bad attempt number 0/,
    );
  });
});
