import { describe, expect, test } from 'vitest';
import { Fifo } from '../../src/delivery/fifo.js';

describe('Fifo', () => {
  test('gives items back in the order they came, across its compactions', () => {
    const q = new Fifo<number>();
    expect(q.shift()).toBeUndefined();
    const out: number[] = [];
    let next = 0;
    // interleaved, so that the front is dropped while items remain behind it
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) q.push(next++);
      for (let i = 0; i < 200; i++) out.push(q.shift()!);
      expect(q.length).toBe(next - out.length);
    }
    expect([...q]).toEqual(Array.from({ length: q.length }, (_, i) => out.length + i));
    while (q.length > 0) out.push(q.shift()!);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(q.shift()).toBeUndefined();
    q.push(-1);
    expect([...q]).toEqual([-1]);
  });
});
