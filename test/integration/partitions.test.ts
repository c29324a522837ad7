import { describe, expect } from 'vitest';
import type { Db } from '../../src/store/db.js';
import {
  dropExpiredPartitions,
  ensurePartitions,
  listPartitions,
  PARTITION_SPAN,
} from '../../src/store/partitions.js';
import { purgeHistory, purgeTestDeliveries } from '../../src/store/retention.js';
import { contactAt, deliveries, deliveryTest as test } from '../helpers/delivery.js';
import { allEvents, closeAllWindows } from '../helpers/events.js';

// Retention drops whole partitions of events, deliveries and attempts (migration 009). Each test
// writes on both sides of a boundary, so one that drops too much or too little fails.

/** Makes the current partition look `days` old, as if it had been opened then. */
async function ageCurrentPartition(db: Db, days: number): Promise<void> {
  await db.query(
    `UPDATE event_partitions SET opened_at = now() - $1::int * interval '1 day'
     WHERE n = (SELECT max(n) FROM event_partitions WHERE opened_at IS NOT NULL)`,
    [days],
  );
}

const count = async (db: Db, sql: string, params: unknown[] = []) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]!.n;

const tableExists = async (db: Db, name: string) =>
  (await count(db, `pg_tables WHERE schemaname = current_schema() AND tablename = $1`, [name])) === 1;

describe('partitions', () => {
  test('the next partition exists ahead; the sequence moves on only when the current one is due', async ({
    api,
    tenant,
  }) => {
    expect(await ensurePartitions(api.db, { partitionDays: 1 })).toMatchObject({
      current: 0,
      rolledOver: false,
    });
    expect(await tableExists(api.db, 'events_p1')).toBe(true);
    expect(await tableExists(api.db, 'events_p2')).toBe(false);

    await ageCurrentPartition(api.db, 1);
    const round = await ensurePartitions(api.db, { partitionDays: 1 });
    expect(round).toEqual({ current: 1, rolledOver: true, created: [2] });
    for (const t of ['events', 'deliveries', 'delivery_attempts'])
      expect(await tableExists(api.db, `${t}_p2`)).toBe(true);
    // the queue's tables, and the partitions the service makes of them, get the queue's vacuum
    // settings (migration 010), and keep their empty pages (migration 018)
    const { rows: options } = await api.db.query<{ relname: string; reloptions: string[] | null }>(
      `SELECT relname, reloptions FROM pg_class
       WHERE relnamespace = current_schema()::regnamespace AND relname = ANY($1::text[]) ORDER BY relname`,
      [['deliveries_p0', 'deliveries_p2', 'delivery_attempts_p2', 'contact_windows', 'delivery_workers']],
    );
    expect(
      options.map((o) => [
        o.relname,
        o.reloptions?.includes('autovacuum_vacuum_scale_factor=0.01'),
        o.reloptions?.includes('vacuum_truncate=off'),
      ]),
    ).toEqual([
      ['contact_windows', true, true],
      ['deliveries_p0', true, true],
      ['deliveries_p2', true, true],
      ['delivery_attempts_p2', true, true],
      ['delivery_workers', true, true],
    ]);
    // a second round at once changes nothing
    expect(await ensurePartitions(api.db, { partitionDays: 1 })).toEqual({
      current: 1,
      rolledOver: false,
      created: [],
    });

    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    const { rows } = await api.db.query<{ seq: number; part: string }>(
      `SELECT seq, tableoid::regclass::text AS part FROM events`,
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.seq >= PARTITION_SPAN && r.part.endsWith('events_p1'))).toBe(true);
    const parts = await listPartitions(api.db);
    expect(parts.map((p) => [p.n, p.openedAt !== null, p.closedAt !== null])).toEqual([
      [0, true, true],
      [1, true, false],
      [2, false, false],
    ]);
  });

  test('dropping a partition takes its events, their deliveries and attempts; the pull API stays complete and in order, kept deliveries replayable', async ({
    api,
    tenant,
  }) => {
    const sub = await api.create('/api/subscriptions', {
      url: 'http://127.0.0.1:9999/hooks',
      locationId: tenant.locA,
    });
    const contacts = [await contactAt(api, tenant.locA), await contactAt(api, tenant.locA)];
    await closeAllWindows(api.db);
    const old = (await allEvents(api)).events.map((e) => e.eventId);

    // the next day: partition 1; the same contacts change again
    await ageCurrentPartition(api.db, 1);
    await ensurePartitions(api.db, { partitionDays: 1 });
    for (const id of contacts) await api.patch(`/api/contacts/${id}`, { firstName: 'Later' });
    await closeAllWindows(api.db);
    const all = await allEvents(api);
    const kept = all.events.map((e) => e.eventId).slice(old.length);
    expect(all.events.map((e) => e.eventId).slice(0, old.length)).toEqual(old);
    expect(kept.length).toBeGreaterThan(0);
    // an attempt for every delivery, as a worker would have logged
    await api.db.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, outcome, event_seq)
       SELECT id, 1, now(), 5, 500, 'failed', event_seq FROM deliveries`,
    );
    await api.db.query(`UPDATE deliveries SET status = 'failed', completed_at = now()`);

    // nothing is old enough yet
    expect(await dropExpiredPartitions(api.db, 30)).toEqual([]);
    await api.db.query(
      `UPDATE event_partitions SET closed_at = now() - interval '30 days 1 minute' WHERE n = 0`,
    );
    expect(await dropExpiredPartitions(api.db, 30)).toEqual([0]);
    expect(await tableExists(api.db, 'events_p0')).toBe(false);

    // the pull API: exactly the later events, in their order
    const left = await allEvents(api);
    expect(left.events.map((e) => e.eventId)).toEqual(kept);
    // (each contact's events are a suffix of what it had: its history after the cutoff, complete)
    for (const id of contacts) {
      const mine = left.events.filter((e) => e.data.contactId === id).map((e) => e.eventId);
      const before = all.events.filter((e) => e.data.contactId === id).map((e) => e.eventId);
      expect(mine).toEqual(before.slice(before.length - mine.length));
      expect(mine.length).toBeGreaterThan(0);
    }
    // deliveries: those of the kept events, with their attempts; nothing left pointing at a dropped event
    const listed = await deliveries(api, sub.id);
    expect(listed.map((d) => d.eventId).sort()).toEqual([...kept].sort());
    expect(
      await count(api.db, `deliveries d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.seq = d.event_seq)`),
    ).toBe(0);
    expect(await count(api.db, `delivery_attempts`)).toBe(listed.length);
    // and they replay
    const res = await api.post(`/api/subscriptions/${sub.id}/replay`, {
      since: '2000-01-01T00:00:00Z',
      status: 'failed',
    });
    expect(res.status).toBe(202);
    expect((await deliveries(api, sub.id, '&status=pending')).length).toBe(listed.length);
  });

  test('test deliveries and their attempts past their retention go; younger ones and event deliveries stay', async ({
    api,
    tenant,
  }) => {
    const sub = await api.create('/api/subscriptions', {
      url: 'http://127.0.0.1:9999/hooks',
      locationId: tenant.locA,
    });
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    for (let i = 0; i < 3; i++)
      expect((await api.post(`/api/subscriptions/${sub.id}/test`)).status).toBe(202);
    await api.db.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, outcome, event_seq)
       SELECT id, 1, now(), 5, 200, 'succeeded', event_seq FROM deliveries`,
    );
    const tests = await api.db.query<{ id: string }>(
      `SELECT id FROM deliveries WHERE event_seq IS NULL ORDER BY id`,
    );
    const [a, b, c] = tests.rows.map((r) => r.id);
    await api.db.query(
      `UPDATE deliveries SET created_at = now() - interval '7 days 1 minute' WHERE id = ANY ($1)`,
      [[a, b]],
    );
    const before = await count(api.db, `deliveries WHERE event_seq IS NOT NULL`);
    expect(before).toBeGreaterThan(0);

    expect(await purgeTestDeliveries(api.db, 7, 1)).toBe(1);
    expect(await purgeTestDeliveries(api.db, 7, 100)).toBe(1);
    expect(await purgeTestDeliveries(api.db, 7, 100)).toBe(0);
    const { rows } = await api.db.query<{ id: string }>(`SELECT id FROM deliveries WHERE event_seq IS NULL`);
    expect(rows.map((r) => r.id)).toEqual([c]);
    expect(await count(api.db, `deliveries WHERE event_seq IS NOT NULL`)).toBe(before);
    expect(await count(api.db, `delivery_attempts WHERE event_seq IS NULL`)).toBe(1);
    expect(await count(api.db, `delivery_attempts WHERE event_seq IS NOT NULL`)).toBe(before);
  });

  test('contact history past its retention goes; younger rows stay', async ({ api, tenant }) => {
    const id = await contactAt(api, tenant.locA);
    await api.patch(`/api/contacts/${id}`, { firstName: 'B' });
    await api.patch(`/api/contacts/${id}`, { firstName: 'C' });
    await api.db.query(
      `UPDATE contact_history SET at = now() - interval '90 days 1 minute' WHERE contact_id = $1 AND seq < 3`,
      [id],
    );
    expect(await purgeHistory(api.db, 90, 1)).toBe(1);
    expect(await purgeHistory(api.db, 90, 100)).toBe(1);
    expect(await purgeHistory(api.db, 90, 100)).toBe(0);
    const history = await api.get(`/api/contacts/${id}/history`);
    expect(history.status).toBe(200);
    expect(history.body.data.map((h: { seq: number }) => h.seq)).toEqual([3]);
  });

  test('a column added to the partitioned events table reaches every partition', async ({ api }) => {
    await ensurePartitions(api.db, { partitionDays: 1 });
    await api.db.query(`ALTER TABLE events ADD COLUMN trace_id text`);
    const { rows } = await api.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.columns
       WHERE table_schema = current_schema() AND column_name = 'trace_id' AND table_name LIKE 'events%'`,
    );
    expect(rows[0]!.n).toBe(3);
  });
});
