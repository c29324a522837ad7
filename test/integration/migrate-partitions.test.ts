import { afterEach, describe, expect, test } from 'vitest';
import type { Db } from '../../src/store/db.js';
import { loadMigrations, migrate } from '../../src/store/migrate.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

// Migration 009 turns the events, deliveries and attempts tables into partitioned ones. It must
// keep every row as it was, and the guarantees around them: these tests fill the tables as they
// were before it, migrate, and compare.

let t: TestDb | undefined;
afterEach(async () => {
  await t?.drop();
  t = undefined;
});

const before009 = () => loadMigrations().filter((m) => m.version < 9);
const through009 = () => loadMigrations().filter((m) => m.version <= 9);

/** Tables as they were before migration 009, filled: events, deliveries (of events and tests), attempts. */
async function fillOldTables(db: Db): Promise<void> {
  await db.transaction((tx) =>
    tx.exec(`
    INSERT INTO organizations (name) VALUES ('Org');
    INSERT INTO locations (organization_id, name) SELECT id, 'Loc' FROM organizations;
    INSERT INTO contacts (location_id, contact_group_id) SELECT id, 1 FROM locations, generate_series(1, 3);
    INSERT INTO subscriptions (id, organization_id, location_id, url, secret)
      SELECT 'sub_' || i, l.organization_id, l.id, 'https://example.com/' || i, 'whsec_' || i
      FROM locations l, generate_series(1, 2) i;
    INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                        event_timestamp, data)
      SELECT 'evt_' || i, 'win_' || i, 0, 'contact.updated', c.contact_id, c.location_id, 1,
             now() - i * interval '1 hour', jsonb_build_object('contactId', c.contact_id, 'n', i)
      FROM generate_series(1, 12) i JOIN contacts c ON c.contact_id = 1 + i % 3;
    -- a gap in the sequence, as rolled-back inserts leave
    SELECT setval('events_seq_seq', 100);
    INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                        event_timestamp, data)
      VALUES ('evt_late', 'win_late', 1, 'contact.created', 1, 1, 1, now(), '{"contactId": 1}');
    INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, completed_at, last_status_code)
      SELECT 'dlv_' || s.id || '_' || e.seq, s.id, e.seq, e.contact_id,
             CASE WHEN e.seq % 4 = 0 THEN 'failed' WHEN e.seq % 4 = 1 THEN 'pending' ELSE 'succeeded' END,
             1 + e.seq % 3, CASE WHEN e.seq % 4 <> 1 THEN now() END, 200
      FROM events e CROSS JOIN subscriptions s;
    INSERT INTO deliveries (id, subscription_id, test_payload, contact_id, status)
      SELECT 'dlv_test_' || s.id, s.id, '{"eventId": "evt_test"}', 0, 'succeeded' FROM subscriptions s;
    INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, outcome)
      SELECT d.id, a, now(), 10 * a, 500, 'body ' || d.id || ' ' || a, 'retry'
      FROM deliveries d, generate_series(1, 2) a;
    -- an attempt whose delivery is gone (a row no purge should ever have left; kept all the same)
    INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, outcome)
      VALUES ('dlv_gone', 1, now(), 1, 'failed');
  `),
  );
}

/** Every row of the three tables, as JSON, in a stable order (without the column 009 adds). */
async function snapshot(db: Db) {
  const rows = async (sql: string) => (await db.query<{ r: unknown }>(sql)).rows.map((x) => x.r);
  return {
    events: await rows(`SELECT to_jsonb(t) AS r FROM events t ORDER BY seq`),
    deliveries: await rows(`SELECT to_jsonb(t) AS r FROM deliveries t ORDER BY id`),
    attempts: await rows(`SELECT to_jsonb(t) - 'event_seq' AS r FROM delivery_attempts t ORDER BY id`),
  };
}

describe('migration 009 (partitions)', () => {
  test('keeps every row of events, deliveries and attempts, each in its partition', async () => {
    t = await createTestDb({ migrate: false });
    await migrate(t.db, before009());
    await fillOldTables(t.db);
    const old = await snapshot(t.db);
    expect(old.events).toHaveLength(13);
    expect(old.deliveries).toHaveLength(28);
    expect(old.attempts).toHaveLength(57);

    expect(await migrate(t.db, through009())).toEqual(['009_partitions']);
    expect(await snapshot(t.db)).toEqual(old);
    // and the migrations after it (columns added, indexes) keep every row where 009 put it
    await migrate(t.db);

    const where = async (table: string) =>
      (
        await t!.db.query<{ part: string; n: number }>(
          `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM ${table} GROUP BY 1 ORDER BY 1`,
        )
      ).rows;
    expect(await where('events')).toEqual([{ part: 'events_p0', n: 13 }]);
    expect(await where('deliveries')).toEqual([
      { part: 'deliveries_p0', n: 26 },
      { part: 'deliveries_tests', n: 2 },
    ]);
    expect(await where('delivery_attempts')).toEqual([
      { part: 'delivery_attempts_p0', n: 52 },
      { part: 'delivery_attempts_tests', n: 5 },
    ]);
    // each attempt carries its delivery's event
    const { rows: mismatched } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
       WHERE a.event_seq IS DISTINCT FROM d.event_seq`,
    );
    expect(mismatched[0]!.n).toBe(0);
  });

  test('the sequences go on where they were, and the constraints still hold', async () => {
    t = await createTestDb({ migrate: false });
    await migrate(t.db, before009());
    await fillOldTables(t.db);
    await migrate(t.db);
    const { rows } = await t.db.query<{ seq: number }>(
      `INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                           event_timestamp, data)
       VALUES ('evt_new', 'win_new', 0, 'contact.updated', 1, 1, 1, now(), '{}') RETURNING seq`,
    );
    expect(rows[0]!.seq).toBe(102);
    const { rows: d } = await t.db.query<{ seq: number }>(
      `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id) VALUES ('dlv_new', 'sub_1', 102, 1) RETURNING seq`,
    );
    expect(d[0]!.seq).toBe(29);
    const { rows: a } = await t.db.query<{ id: number }>(
      `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, outcome, event_seq)
       VALUES ('dlv_new', 1, now(), 1, 'retry', 102) RETURNING id`,
    );
    expect(a[0]!.id).toBe(58);
    // a delivery must have an event or a test payload, not both, not neither
    await expect(
      t.db.query(
        `INSERT INTO deliveries (id, subscription_id, contact_id) VALUES ('dlv_neither', 'sub_1', 0)`,
      ),
    ).rejects.toThrow(/deliveries_check/);
    await expect(
      t.db.query(
        `INSERT INTO deliveries (id, subscription_id, event_seq, test_payload, contact_id) VALUES ('dlv_both', 'sub_1', 1, '{}', 0)`,
      ),
    ).rejects.toThrow(/deliveries_check/);
    // the same delivery id twice in one partition is refused
    await expect(
      t.db.query(
        `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id) VALUES ('dlv_new', 'sub_1', 102, 1)`,
      ),
    ).rejects.toThrow(/duplicate key/);
  });
});
