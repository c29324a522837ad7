import { describe, expect, test } from 'vitest';
import { drainsRefusedBody } from '../../src/api/oversized-bodies.js';

// A refused body is read and thrown away, the connection kept, up to 16 MiB declared
// (src/api/oversized-bodies.ts; the behaviour over a real connection: test/integration).
describe('drainsRefusedBody', () => {
  test('a 413 for a body declared at up to 16 MiB keeps the connection', () => {
    expect(drainsRefusedBody(413, '1200000')).toBe(true);
    expect(drainsRefusedBody(413, String(16 * 1024 * 1024))).toBe(true);
  });

  test('past 16 MiB, with no declared length, or a length that is not a number: closed', () => {
    expect(drainsRefusedBody(413, String(16 * 1024 * 1024 + 1))).toBe(false);
    expect(drainsRefusedBody(413, undefined)).toBe(false);
    expect(drainsRefusedBody(413, '12abc')).toBe(false);
    expect(drainsRefusedBody(413, '')).toBe(false);
  });

  test('any other answer is left as Fastify made it', () => {
    expect(drainsRefusedBody(400, '100')).toBe(false);
    expect(drainsRefusedBody(200, '100')).toBe(false);
  });
});
