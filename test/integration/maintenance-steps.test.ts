import { describe, expect } from 'vitest';
import { runMaintenanceRound, sweepStore } from '../../src/events/maintenance.js';
import type { Db } from '../../src/store/db.js';
import { dbTest, engine } from '../helpers/db.js';
import {
  askingDuringMaintenance,
  deadRows,
  insertDeliveries,
  P0,
  reltuples,
  withoutAutovacuum,
} from '../helpers/maintenance.js';

// On the embedded engine a maintenance operation stops everything else the store does (and, in
// process, the service's thread): each is kept short, one table and one of VACUUM or ANALYZE at a
// time, and the rest of the service gets its turn between two (docs/design.md, "Maintenance off the
// hot path").

/** How many histogram bounds ANALYZE kept for a column: the statistics target, plus one. */
async function histogramBounds(db: Db, table: string, column: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT coalesce(array_length(histogram_bounds::text::text[], 1), 0) AS n FROM pg_stats
     WHERE schemaname = current_schema() AND tablename = $1 AND attname = $2`,
    [table, column],
  );
  return rows[0]?.n ?? 0;
}

describe('maintenance, one short operation at a time', () => {
  dbTest(
    'a round vacuums, then analyzes, answering what was asked meanwhile between the two',
    async ({ db }) => {
      await withoutAutovacuum(db);
      await insertDeliveries(db, 3000);
      await db.transaction(async (tx) => {
        await tx.query(`UPDATE deliveries SET status = 'failed' WHERE event_seq <= 1200`);
        await tx.query('SELECT pg_stat_force_next_flush()');
      });
      const seen: string[] = [];
      const report = await runMaintenanceRound(askingDuringMaintenance(db, seen), {
        holder: 'a',
        everyMs: 0,
      });
      expect(report?.done.map((d) => [d.table, d.op])).toEqual([
        [P0, 'VACUUM'],
        [P0, 'ANALYZE'],
      ]);
      const ops = seen.filter((s) => s !== 'answered');
      expect(ops).toEqual([`VACUUM ${P0}`, `ANALYZE ${P0}`]);
      // the embedded engine answers nothing else while one runs (in process, nothing else runs at
      // all): what was asked meanwhile is answered before the next is sent. (A server answers other
      // sessions meanwhile anyway.)
      if (engine === 'pglite')
        expect(seen).toEqual([`VACUUM ${P0}`, 'answered', `ANALYZE ${P0}`, 'answered']);
      expect(await deadRows(db, P0)).toBe(0);
      expect(await reltuples(db, P0)).toBe(3000);
    },
  );

  // a sample of 3,000 rows instead of 30,000: ANALYZE of the queue's tables at 90,000 rows took
  // 98-341 ms of the embedded engine with the default, 24-97 ms so (BENCHMARKS.md)
  dbTest('the embedded engine analyzes with statistics target 10; a server keeps its own', async ({ db }) => {
    await withoutAutovacuum(db);
    await insertDeliveries(db, 5000);
    await runMaintenanceRound(db, { holder: 'a', everyMs: 0 });
    expect(await reltuples(db, P0)).toBe(5000);
    const bounds = await histogramBounds(db, P0, 'contact_id');
    if (engine === 'pglite') expect(bounds).toBe(11);
    else expect(bounds).toBeGreaterThan(11);
  });

  dbTest(
    "the embedded store's sweep takes every table in turn, answering between two operations",
    async ({ db }) => {
      // dead rows and unanalyzed changes outside the queue: the contacts' history, say
      await insertDeliveries(db, 3000);
      await db.query(`INSERT INTO organizations (name) SELECT 'Org ' || g FROM generate_series(1, 2000) g`);
      await db.transaction(async (tx) => {
        await tx.query(`UPDATE organizations SET name = name || '!'`);
        await tx.query('SELECT pg_stat_force_next_flush()');
      });
      const seen: string[] = [];
      await sweepStore(askingDuringMaintenance(db, seen));
      expect(seen).toContain('VACUUM organizations');
      expect(seen).toContain('ANALYZE organizations');
      // every operation on its own, and (embedded) what was asked meanwhile answered before the next
      const ops = seen.filter((s) => s !== 'answered');
      expect(new Set(ops).size).toBe(ops.length);
      if (engine === 'pglite') expect(seen).toEqual(ops.flatMap((op) => [op, 'answered']));
      expect(await deadRows(db, 'organizations')).toBe(0);
      expect(await reltuples(db, 'organizations')).toBe(2000);
      // a partitioned table's partitions, and its own statistics
      expect(await reltuples(db, P0)).toBe(3000);
      expect(await reltuples(db, 'deliveries')).toBe(3000);
    },
  );
});
