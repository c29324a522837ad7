import { describe, expect } from 'vitest';
import { runMaintenanceRound, startMaintenance } from '../../src/events/maintenance.js';
import { startCoalescer } from '../../src/events/runner.js';
import { createLogger } from '../../src/log.js';
import { PostgresDb } from '../../src/store/postgres.js';
import { reapDeadWorkers } from '../../src/store/workers.js';
import { apiTest } from '../helpers/api.js';
import { dbTest, engine, testDatabaseUrl } from '../helpers/db.js';
import { waitFor } from '../helpers/events.js';
import { deadRows, insertDeliveries, P0, reltuples, withoutAutovacuum } from '../helpers/maintenance.js';

// The delivery queue's ANALYZE and VACUUM run in a loop of their own, one process at a time, never
// inside the closing or delivery loops; and no statement planned with sequential scans switched off
// is compiled by JIT (docs/design.md, "Maintenance off the hot path").

const log = createLogger('silent');

describe('maintenance', () => {
  dbTest('a round analyzes the queue once it has grown by half (2,000 rows at least)', async ({ db }) => {
    await withoutAutovacuum(db);
    await insertDeliveries(db, 1500);
    expect(await runMaintenanceRound(db, { holder: 'a', everyMs: 0 })).toEqual({ done: [] });
    await db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, completed_at)
         SELECT 'dlv_b' || g, 'sub_x', g, g, 'succeeded', now() FROM generate_series(1, 1000) g`,
      );
      await tx.query('SELECT pg_stat_force_next_flush()');
    });
    const report = await runMaintenanceRound(db, { holder: 'a', everyMs: 0 });
    expect(report?.done.map((d) => [d.table, d.op])).toEqual([[P0, 'ANALYZE']]);
    expect(await reltuples(db, P0)).toBe(2500);
  });

  dbTest('where autovacuum does not run, a round vacuums the dead rows of the queue', async ({ db }) => {
    await withoutAutovacuum(db);
    await insertDeliveries(db, 3000);
    await runMaintenanceRound(db, { holder: 'a', everyMs: 0 }); // analyzes the new rows
    await db.transaction(async (tx) => {
      await tx.query(`UPDATE deliveries SET status = 'failed' WHERE event_seq <= 1200`);
      await tx.query('SELECT pg_stat_force_next_flush()');
    });
    expect(await deadRows(db, P0)).toBe(1200);
    const report = await runMaintenanceRound(db, { holder: 'a', everyMs: 0 });
    expect(report?.done.map((d) => [d.table, d.op])).toEqual([[P0, 'VACUUM']]);
    expect(await deadRows(db, P0)).toBe(0);
  });

  // at 1,000 writes/s the closer asked for an early round every second, and on PostgreSQL each one
  // vacuumed the queue again: a pass over every index of the deliveries, whole (BENCHMARKS.md)
  dbTest(
    'an early round vacuums on the embedded engine only; on PostgreSQL the due round does',
    async ({ db }) => {
      await withoutAutovacuum(db);
      await insertDeliveries(db, 3000);
      await runMaintenanceRound(db, { holder: 'a', everyMs: 3_600_000 }); // analyzes the new rows
      const nextAt = async () =>
        (await db.query<{ at: Date }>(`SELECT next_at AS at FROM maintenance_runs WHERE name = 'queue'`))
          .rows[0]!.at;
      const scheduled = await nextAt();
      // a burst (2,200 new rows: analyzed at once, however recently) and 1,200 dead rows
      await insertDeliveries(db, 2200, 3001);
      await db.transaction(async (tx) => {
        await tx.query(`UPDATE deliveries SET status = 'failed' WHERE event_seq <= 1200`);
        await tx.query('SELECT pg_stat_force_next_flush()');
      });
      const early = await runMaintenanceRound(db, { holder: 'a', everyMs: 3_600_000, early: true });
      const ops = (r: typeof early) => r?.done.map((d) => [d.table, d.op]);
      if (engine === 'pglite') {
        expect(ops(early)).toEqual([
          [P0, 'VACUUM'],
          [P0, 'ANALYZE'],
        ]);
        expect(await deadRows(db, P0)).toBe(0);
        expect((await nextAt()).getTime()).toBeGreaterThan(scheduled.getTime());
        return;
      }
      expect(ops(early)).toEqual([[P0, 'ANALYZE']]);
      expect(await reltuples(db, P0)).toBe(5200);
      expect(await deadRows(db, P0)).toBe(1200);
      expect(await nextAt()).toEqual(scheduled); // the due round stays when it was
      await db.query(`UPDATE maintenance_runs SET next_at = now() WHERE name = 'queue'`);
      expect(ops(await runMaintenanceRound(db, { holder: 'a', everyMs: 3_600_000, early: true }))).toEqual([
        [P0, 'VACUUM'],
      ]);
      expect(await deadRows(db, P0)).toBe(0);
      expect((await nextAt()).getTime()).toBeGreaterThan(Date.now());
    },
  );

  // a queue's rows come and go: its changes reach the threshold over and over while what the
  // planner knows of it stays true (contact_windows was analyzed every 2 s at 500 writes/s)
  dbTest('a table analyzed within the minute is not analyzed again for churn alone', async ({ db }) => {
    await withoutAutovacuum(db);
    await insertDeliveries(db, 3000);
    const round = async () =>
      (await runMaintenanceRound(db, { holder: 'a', everyMs: 0 }))?.done.map((d) => [d.table, d.op]);
    expect(await round()).toEqual([[P0, 'ANALYZE']]);
    await db.transaction(async (tx) => {
      await tx.query(`UPDATE deliveries SET status = 'failed' WHERE event_seq <= 2500`);
      await tx.query('SELECT pg_stat_force_next_flush()');
    });
    // 2,500 changed, past half the rows, but the same 3,000 rows, analyzed seconds ago: only the dead
    // ones are seen to (the counters say when the table was last analyzed, and how many rows live)
    expect(await round()).toEqual([[P0, 'VACUUM']]);
  });

  dbTest('one process at a time runs a round, and the next only when it is due', async ({ testDb }) => {
    const [a, b] = [testDb.db, testDb.openAnother()];
    const rounds = await Promise.all([
      runMaintenanceRound(a, { holder: 'a', everyMs: 3_600_000 }),
      runMaintenanceRound(b, { holder: 'b', everyMs: 3_600_000 }),
    ]);
    expect(rounds.filter((r) => r !== undefined)).toHaveLength(1);
    expect(await runMaintenanceRound(b, { holder: 'b', everyMs: 3_600_000 })).toBeUndefined();
    // a burst claims one at once, due or not
    expect(await runMaintenanceRound(b, { holder: 'b', everyMs: 3_600_000, early: true })).toEqual({
      done: [],
    });
  });

  dbTest('a round held by a process that died is taken over once its lease ends', async ({ db }) => {
    await db.query(`UPDATE maintenance_runs SET held_by = 'dead', lease_until = now() + interval '1 hour'`);
    expect(await runMaintenanceRound(db, { holder: 'a', everyMs: 0 })).toBeUndefined();
    await db.query(`UPDATE maintenance_runs SET lease_until = now() - interval '1 second'`);
    expect(await runMaintenanceRound(db, { holder: 'a', everyMs: 0 })).toEqual({ done: [] });
  });

  dbTest("the closer's burst wakes the loop, which analyzes at once", async ({ db }) => {
    await withoutAutovacuum(db);
    const m = startMaintenance(db, log, { everyMs: 3_600_000 });
    try {
      // the first round runs at start; the next is an hour away
      await waitFor(async () => {
        const { rows } = await db.query(`SELECT 1 FROM maintenance_runs WHERE next_at > now()`);
        return rows[0];
      }, 'the first round');
      await insertDeliveries(db, 2500);
      m.grew(2500);
      await waitFor(async () => ((await reltuples(db, P0)) === 2500 ? true : undefined), 'ANALYZE');
    } finally {
      await m.stop();
    }
  });

  apiTest('closing windows never runs ANALYZE, however many deliveries it adds', async ({ api, tenant }) => {
    await withoutAutovacuum(api.db);
    await api.create('/api/subscriptions', { url: 'https://hooks.example.com/a', locationId: tenant.locA });
    await api.create('/api/subscriptions', { url: 'https://hooks.example.com/b', locationId: tenant.locA });
    const contacts = Array.from({ length: 1100 }, (_, i) => ({ firstName: `C${i}`, externalId: `x${i}` }));
    const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, { contacts });
    expect(res.status).toBe(200);
    await api.db.query(`UPDATE contact_windows SET close_at = now()`);
    const before = await reltuples(api.db, P0);
    const coalescer = await startCoalescer(api.db, log);
    try {
      await waitFor(async () => {
        const { rows } = await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM contact_windows`);
        return rows[0]!.n === 0 ? true : undefined;
      }, 'every window closed');
    } finally {
      await coalescer.stop();
    }
    const { rows } = await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries`);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2200);
    expect(await reltuples(api.db, P0)).toBe(before);
  });

  dbTest('transactions planned with index lookups only run without JIT', async ({ db }) => {
    const jit = await db.transaction(
      async (tx) => (await tx.query<{ jit: string }>('SHOW jit')).rows[0]!.jit,
      { indexLookupsOnly: true },
    );
    expect(jit).toBe('off');
  });

  // The fan-out's INSERT probes every partition once per new delivery: a burst of 6,000 on a month of
  // daily partitions is planned at a cost past JIT's thresholds, and compiling it took 1.9 s of the
  // statement's 2.1 s (BENCHMARKS.md, "Data scale"). The service's statements are all small: no JIT.
  dbTest.runIf(engine === 'postgres')(
    'every session of the service runs without JIT (PostgreSQL)',
    async ({ db }) => {
      expect((await db.query<{ jit: string }>('SHOW jit')).rows[0]!.jit).toBe('off');
      expect(
        await db.transaction(async (tx) => (await tx.query<{ jit: string }>('SHOW jit')).rows[0]!.jit),
      ).toBe('off');
    },
  );

  dbTest.runIf(engine === 'postgres')(
    "a DATABASE_URL's own options are kept beside the service's, and win where they name the same setting",
    async ({ testDb }) => {
      const url = new URL(testDatabaseUrl());
      url.searchParams.set('options', '-c statement_timeout=12345 -c application_name=from-url');
      const db = new PostgresDb({ connectionString: url.toString(), schema: testDb.schema });
      try {
        const { rows } = await db.query<{ jit: string; timeout: string; path: string }>(
          `SELECT current_setting('jit') AS jit, current_setting('statement_timeout') AS timeout,
                  current_setting('search_path') AS path`,
        );
        expect(rows[0]).toEqual({ jit: 'off', timeout: '12345ms', path: `"${testDb.schema}"` });
      } finally {
        await db.close();
      }
      url.searchParams.set('options', '-c jit=on');
      const jitOn = new PostgresDb({ connectionString: url.toString() });
      try {
        expect((await jitOn.query<{ jit: string }>('SHOW jit')).rows[0]!.jit).toBe('on');
      } finally {
        await jitOn.close();
      }
    },
  );

  dbTest.runIf(engine === 'postgres')(
    'the heartbeat sweep is not compiled by JIT (PostgreSQL)',
    async ({ db }) => {
      // the sweep's statement as it runs, inside its transaction's settings, its plan with ANALYZE
      const plan = await db
        .transaction(
          async (tx) => {
            const { rows } = await tx.query<{ 'QUERY PLAN': unknown[] }>(
              `EXPLAIN (ANALYZE, FORMAT JSON)
               DELETE FROM delivery_workers WHERE heartbeat_at < now() - $1 * interval '1 millisecond' RETURNING id`,
              [30_000],
            );
            throw Object.assign(new Error('roll back'), { plan: rows[0]!['QUERY PLAN'][0] });
          },
          { indexLookupsOnly: true },
        )
        .catch((err: { plan?: Record<string, unknown> }) => err.plan);
      expect(plan).toBeDefined();
      expect(plan).not.toHaveProperty('JIT');
      // and the sweep itself still works under those settings
      expect(await reapDeadWorkers(db, 30_000)).toEqual({ workers: [], deliveries: 0 });
    },
  );
});
