import type { Queryable } from './db.js';
import { PARTITION_SPAN } from './partitions.js';

/**
 * Row-by-row purges, for what partitions do not cover (docs/design.md, "Partitioned retention"):
 * events of partition 0, which holds everything written before partitioning and is dropped whole
 * only once it has been closed longer than the retention period; test deliveries; and, when
 * configured, contact history. Each deletes at most `limit` rows and returns how many.
 */

/** Events of partition 0 older than the retention period, with their deliveries and attempts. */
export async function purgeEvents(q: Queryable, retentionDays: number, limit: number): Promise<number> {
  // the events' deliveries and their attempts go with them (the queue has no foreign keys to cascade);
  // every statement names the partition key, so only partition 0 is touched
  const { rows } = await q.query<{ n: number }>(
    `WITH gone AS (
       DELETE FROM events WHERE seq < $3 AND seq IN (
         SELECT seq FROM events WHERE seq < $3 AND event_timestamp < now() - $1::int * interval '1 day'
         ORDER BY seq LIMIT $2)
       RETURNING seq),
     gone_deliveries AS (
       DELETE FROM deliveries WHERE event_seq < $3 AND event_seq IN (SELECT seq FROM gone) RETURNING id),
     gone_attempts AS (
       DELETE FROM delivery_attempts
       WHERE event_seq < $3 AND delivery_id IN (SELECT id FROM gone_deliveries))
     SELECT count(*)::int AS n FROM gone`,
    [retentionDays, limit, PARTITION_SPAN],
  );
  return rows[0]!.n;
}

/** Test deliveries (and their attempts) older than the retention period: the default partitions. */
export async function purgeTestDeliveries(
  q: Queryable,
  retentionDays: number,
  limit: number,
): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    `WITH gone AS (
       DELETE FROM deliveries WHERE event_seq IS NULL AND id IN (
         SELECT id FROM deliveries WHERE event_seq IS NULL AND created_at < now() - $1::int * interval '1 day'
         ORDER BY created_at LIMIT $2)
       RETURNING id),
     gone_attempts AS (
       DELETE FROM delivery_attempts WHERE event_seq IS NULL AND delivery_id IN (SELECT id FROM gone))
     SELECT count(*)::int AS n FROM gone`,
    [retentionDays, limit],
  );
  return rows[0]!.n;
}

/**
 * Contact history older than the retention period (`FPT_HISTORY_RETENTION_DAYS`; by default the
 * history is kept, since the history API serves it). No index on `at` is kept for it, which every
 * contact write would pay for: the oldest rows sit at the start of the table, so a scan that stops
 * at the `limit`-th match reads little more than what it deletes.
 */
export async function purgeHistory(q: Queryable, retentionDays: number, limit: number): Promise<number> {
  const { rowCount } = await q.query(
    `DELETE FROM contact_history WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM contact_history WHERE at < now() - $1::int * interval '1 day' LIMIT $2))`,
    [retentionDays, limit],
  );
  return rowCount;
}
