import { describe, expect, test } from 'vitest';
import { planRound } from '../../src/events/maintenance.js';
import type { TableStats } from '../../src/store/maintenance.js';

const table = (over: Partial<TableStats>): TableStats => ({
  table: 'deliveries',
  qualified: 'public.deliveries',
  rows: 0,
  changedSinceAnalyze: 0,
  dead: 0,
  autovacuum: false,
  ...over,
});
const ops = (stats: TableStats[]) => planRound(stats).map((p) => [p.table, p.op]);

describe('planRound', () => {
  test('analyzes a table once it changed by half its rows, and by 2,000 rows at least', () => {
    expect(ops([table({ rows: 0, changedSinceAnalyze: 1999 })])).toEqual([]);
    expect(ops([table({ rows: 0, changedSinceAnalyze: 2000 })])).toEqual([['deliveries', 'ANALYZE']]);
    expect(ops([table({ rows: 10_000, changedSinceAnalyze: 4999 })])).toEqual([]);
    expect(ops([table({ rows: 10_000, changedSinceAnalyze: 5000 })])).toEqual([['deliveries', 'ANALYZE']]);
  });

  test('vacuums once 1% of the rows (1,000 at least) are dead, unless autovacuum looks after the table', () => {
    expect(ops([table({ rows: 10_000, dead: 999 })])).toEqual([]);
    expect(ops([table({ rows: 10_000, dead: 1000 })])).toEqual([['deliveries', 'VACUUM']]);
    expect(ops([table({ rows: 1_000_000, dead: 9999 })])).toEqual([]);
    expect(ops([table({ rows: 1_000_000, dead: 10_000 })])).toEqual([['deliveries', 'VACUUM']]);
    expect(ops([table({ rows: 1_000_000, dead: 500_000, autovacuum: true })])).toEqual([]);
  });

  test('both at once are a VACUUM, then an ANALYZE, as two operations; each table on its own', () => {
    expect(
      ops([
        table({ rows: 0, changedSinceAnalyze: 3000, dead: 3000 }),
        table({ table: 'events', rows: 100, changedSinceAnalyze: 10 }),
        table({ table: 'contact_windows', rows: 0, changedSinceAnalyze: 2000, dead: 2000, autovacuum: true }),
      ]),
    ).toEqual([
      ['deliveries', 'VACUUM'],
      ['deliveries', 'ANALYZE'],
      ['contact_windows', 'ANALYZE'],
    ]);
  });
});
