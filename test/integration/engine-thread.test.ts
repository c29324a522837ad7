import { describe, expect, it } from 'vitest';
import { PgliteDb } from '../../src/store/pglite.js';
import { engine } from '../helpers/db.js';

// The embedded engine runs in a thread of its own (docs/design.md, "The embedded engine's thread"):
// statements are answered in the order they were sent, and once the thread is gone every statement
// fails at once with the reason instead of waiting for an answer that will not come.
describe.runIf(engine === 'pglite')("the embedded engine's thread", () => {
  it(
    'answers statements sent together in order, and refuses statements once it has ended',
    { timeout: 60_000 },
    async () => {
      const db = await PgliteDb.open();
      const sent = [1, 2, 3, 4, 5].map((n) => db.query<{ n: number }>('SELECT $1::int AS n', [n]));
      const answers = await Promise.all(sent);
      expect(answers.map((a) => a.rows[0]!.n)).toEqual([1, 2, 3, 4, 5]);
      // a statement's rows cross the threads with their types: dates, JSON, arrays, int8 as numbers
      const { rows } = await db.query(
        `SELECT '2026-12-07T00:00:00Z'::timestamptz AS at, '{"a": [1]}'::jsonb AS doc,
                ARRAY['x', 'y'] AS list, 9007199254740991::int8 AS big`,
      );
      expect(rows).toEqual([
        { at: new Date('2026-12-07T00:00:00Z'), doc: { a: [1] }, list: ['x', 'y'], big: 9007199254740991 },
      ]);
      expect(db.wasmMemoryBytes()).toBeGreaterThan(0);
      await db.close();
      await expect(db.query('SELECT 1')).rejects.toThrow(/embedded engine's thread ended/);
    },
  );
});
