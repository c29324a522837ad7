import { describe, expect, test } from 'vitest';
import { createEventIdGenerator, eventIdTime, newEventId } from '../../src/domain/ids.js';

const T = Date.UTC(2026, 5, 10, 23, 45, 0, 123);

describe('event ids', () => {
  test('an id is 32 lowercase hex characters', () => {
    expect(newEventId()).toMatch(/^[0-9a-f]{32}$/);
  });

  test('an id carries the UUID version 7 and the RFC 9562 variant', () => {
    for (let i = 0; i < 100; i++) {
      const id = newEventId();
      expect(id[12]).toBe('7');
      expect(Number.parseInt(id[16]!, 16) >> 2).toBe(0b10);
    }
  });

  test('an id gives back the millisecond it was made at', () => {
    const next = createEventIdGenerator();
    expect(eventIdTime(next(T))).toBe(T);
    expect(eventIdTime(next(0))).toBeGreaterThanOrEqual(0);
    const before = Date.now();
    const t = eventIdTime(newEventId());
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now() + 5);
  });

  test('10,000 consecutive ids are strictly increasing', () => {
    const ids = Array.from({ length: 10_000 }, () => newEventId());
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('ids made within one millisecond keep their order, borrowing the next millisecond when needed', () => {
    const next = createEventIdGenerator();
    const ids = Array.from({ length: 10_000 }, () => next(T));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    // a seed leaves at least 2,048 ids per millisecond, so 10,000 spill over at most a few milliseconds
    const last = eventIdTime(ids.at(-1)!);
    expect(last).toBeGreaterThan(T);
    expect(last).toBeLessThanOrEqual(T + 5);
  });

  test('a clock that steps back does not break the order', () => {
    const next = createEventIdGenerator();
    const a = next(T);
    const b = next(T - 1000);
    expect(b > a).toBe(true);
    expect(eventIdTime(b)).toBe(T);
  });

  test('strings that are not version 7 ids have no time', () => {
    expect(() => eventIdTime('9f1c7e2a8c4d4b1b9e3f5a6d7c8b9a0e')).toThrow(RangeError);
    expect(() => eventIdTime('not-an-id')).toThrow(RangeError);
  });
});
