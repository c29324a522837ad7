import { describe, expect, test } from 'vitest';
import { planRound } from '../../src/events/maintenance.js';
import type { TableStats } from '../../src/store/maintenance.js';

const table = (over: Partial<TableStats>): TableStats => ({
  table: 'deliveries',
  qualified: 'public.deliveries',
  rows: 0,
  changedSinceAnalyze: 0,
  liveRows: 0,
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

  test('a table analyzed within the minute waits, unless its rows grew by half (2,000 at least)', () => {
    const recent = { rows: 10_000, changedSinceAnalyze: 9000, msSinceAnalyze: 20_000 };
    // a queue's churn: as many rows as before, every one of them changed
    expect(ops([table({ ...recent, liveRows: 10_200 })])).toEqual([]);
    expect(ops([table({ ...recent, liveRows: 14_999 })])).toEqual([]);
    // a burst: its rows grew by half
    expect(ops([table({ ...recent, liveRows: 15_000 })])).toEqual([['deliveries', 'ANALYZE']]);
    expect(
      ops([table({ rows: 100, changedSinceAnalyze: 2000, msSinceAnalyze: 1000, liveRows: 2099 })]),
    ).toEqual([]);
    expect(
      ops([table({ rows: 100, changedSinceAnalyze: 2000, msSinceAnalyze: 1000, liveRows: 2100 })]),
    ).toEqual([['deliveries', 'ANALYZE']]);
    // a minute on, or never analyzed: the changes alone
    expect(ops([table({ ...recent, liveRows: 10_000, msSinceAnalyze: 60_000 })])).toEqual([
      ['deliveries', 'ANALYZE'],
    ]);
    expect(ops([table({ rows: 10_000, changedSinceAnalyze: 9000, liveRows: 10_000 })])).toEqual([
      ['deliveries', 'ANALYZE'],
    ]);
    // a VACUUM does not wait
    expect(ops([table({ ...recent, liveRows: 10_000, dead: 5000 })])).toEqual([['deliveries', 'VACUUM']]);
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
