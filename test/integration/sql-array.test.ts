import { describe, expect } from 'vitest';
import { sqlArray } from '../../src/store/sql-array.js';
import { dbTest as test } from '../helpers/db.js';

// The literal is parsed by the engine itself: what goes in must come back unchanged.
describe('sqlArray on the engine', () => {
  test('text, numbers, booleans, dates and nulls come back as they went in', async ({ db }) => {
    const texts = [
      'plain',
      '',
      ' spaced ',
      'NULL',
      'null',
      'a,b',
      '{braces}',
      'say "hi"',
      'back\\slash\\',
      'ünï €',
      null,
    ];
    const numbers = [0, -1, 9_007_199_254_740_991, null, 42];
    const flags = [true, false, null];
    const dates = [new Date(Date.UTC(2026, 10, 30, 12, 0, 0, 5)), null, new Date(0)];
    const { rows } = await db.query<{ t: string[]; n: number[]; f: boolean[]; d: Date[] }>(
      `SELECT $1::text[] AS t, $2::bigint[] AS n, $3::bool[] AS f, $4::timestamptz[] AS d`,
      [sqlArray(texts), sqlArray(numbers), sqlArray(flags), sqlArray(dates)],
    );
    expect(rows[0]!.t).toEqual(texts);
    expect(rows[0]!.n.map((x) => (x === null ? null : Number(x)))).toEqual(numbers);
    expect(rows[0]!.f).toEqual(flags);
    expect(rows[0]!.d.map((x) => (x === null ? null : new Date(x).toISOString()))).toEqual(
      dates.map((x) => x?.toISOString() ?? null),
    );
  });

  test('unnest keeps the order and the pairing of several literals', async ({ db }) => {
    const { rows } = await db.query<{ id: string; n: number }>(
      `SELECT u.id, u.n FROM unnest($1::text[], $2::int[]) AS u (id, n)`,
      [sqlArray(['b', 'a', 'c']), sqlArray([2, 1, 3])],
    );
    expect(rows).toEqual([
      { id: 'b', n: 2 },
      { id: 'a', n: 1 },
      { id: 'c', n: 3 },
    ]);
  });
});
