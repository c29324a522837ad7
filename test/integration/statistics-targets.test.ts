import { describe, expect } from 'vitest';
import type { Db } from '../../src/store/db.js';
import { ensurePartitions } from '../../src/store/partitions.js';
import { dbTest as test } from '../helpers/db.js';

// ANALYZE samples every column of a table; for the payloads (an event's JSON, an attempt's answer,
// a window's contact as it was) that is most of its work, and no statement filters or joins on
// them (migration 017). The embedded engine runs ANALYZE in the service's own thread.

/** Columns whose statistics ANALYZE is told not to gather, by table (partitions included). */
const PAYLOADS: Record<string, string[]> = {
  events: ['data', 'traceparent'],
  deliveries: ['last_error', 'test_payload'],
  delivery_attempts: ['error', 'response_body'],
  contact_windows: ['before_state', 'trace_links', 'traceparent'],
  contact_history: ['changes'],
};

async function statisticsTargets(db: Db): Promise<Map<string, number | null>> {
  const { rows } = await db.query<{ rel: string; att: string; target: number | null }>(
    `SELECT c.relname AS rel, a.attname AS att, a.attstattarget::int AS target
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')`,
  );
  return new Map(rows.map((r) => [`${r.rel}.${r.att}`, r.target]));
}

describe('statistics targets', () => {
  test('ANALYZE gathers nothing of the payload columns, on partitions made later too, and still the rest', async ({
    db,
  }) => {
    await ensurePartitions(db, { partitionDays: 1 });
    await db.query(`UPDATE event_partitions SET opened_at = now() - interval '2 days'`);
    const round = await ensurePartitions(db, { partitionDays: 1 });
    expect(round.created.length).toBeGreaterThan(0);
    const targets = await statisticsTargets(db);
    const tables = [...new Set([...targets.keys()].map((k) => k.split('.')[0]!))];
    for (const [table, columns] of Object.entries(PAYLOADS)) {
      const parts = tables.filter((t) => t === table || new RegExp(`^${table}_(p\\d+|tests)$`).test(t));
      // every partition: those of the migration and those ensurePartitions made
      expect(parts.length).toBeGreaterThanOrEqual(table === 'events' ? 3 : 1);
      for (const t of parts)
        for (const c of columns) expect([`${t}.${c}`, targets.get(`${t}.${c}`)]).toEqual([`${t}.${c}`, 0]);
    }

    // and so ANALYZE keeps statistics of the keys, none of the payload
    await db.query(
      `INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                           event_timestamp, data)
       SELECT 'evt_' || g, 'win_' || g, 0, 'contact.updated', g, 1, 1, now(), jsonb_build_object('contactId', g)
       FROM generate_series(1, 200) g`,
    );
    await db.query('ANALYZE events');
    const { rows } = await db.query<{ att: string }>(
      `SELECT DISTINCT attname AS att FROM pg_stats WHERE schemaname = current_schema() AND tablename LIKE 'events%'`,
    );
    const analyzed = rows.map((r) => r.att);
    expect(analyzed).toContain('contact_id');
    expect(analyzed).not.toContain('data');
  });
});
