import type { Queryable } from '../db.js';
import { PARTITION_SPAN } from '../partitions.js';

/**
 * Finding a delivery by its id without probing every partition (docs/design.md, "Partitioned
 * retention"). The id alone does not name the delivery's partition (its partition key is its event's
 * seq), but the fan-out makes ids as UUIDv7 (`dlv_` and `newEventId()`), whose first 48 bits are the
 * millisecond it ran, in the transaction that took its event's seq: the delivery is in a partition
 * that was open then. Those partitions (one, or two around a rollover: an hour's margin either side
 * for the processes' clocks against the database's) are read first; an id made otherwise (replay and
 * test deliveries use random ids), or a delivery not found there, is looked up in every partition.
 */

/** Slack between the id's clock (the process that made it) and the partitions' (the database). */
const CLOCK_SLACK = '1 hour';

/** The millisecond a UUIDv7 delivery id was made, or undefined for any other id. */
export function deliveryIdTime(id: string): number | undefined {
  const m = /^dlv_([0-9a-f]{12})7[0-9a-f]{3}[89ab][0-9a-f]{15}$/.exec(id);
  return m ? parseInt(m[1]!, 16) : undefined;
}

/**
 * The rows of `select` (a statement reading `deliveries d`, ending where a WHERE clause may follow)
 * for the delivery `id`: `select` is completed with `WHERE d.id = $1`, and first with the range of
 * partitions the id's time points to.
 */
export async function selectDeliveryById<R extends object>(
  q: Queryable,
  select: string,
  id: string,
): Promise<R[]> {
  const made = deliveryIdTime(id);
  if (made !== undefined) {
    const { rows: range } = await q.query<{ lo: number | null; hi: number | null }>(
      `SELECT min(n) AS lo, max(n) AS hi FROM event_partitions
       WHERE (n = 0 OR opened_at <= $1::timestamptz + interval '${CLOCK_SLACK}')
         AND (closed_at IS NULL OR closed_at >= $1::timestamptz - interval '${CLOCK_SLACK}')`,
      [new Date(made)],
    );
    const { lo, hi } = range[0] ?? { lo: null, hi: null };
    if (lo !== null && hi !== null) {
      const { rows } = await q.query<R>(
        `${select} WHERE d.id = $1 AND d.event_seq >= $2::bigint AND d.event_seq < $3::bigint`,
        [id, lo * PARTITION_SPAN, (hi + 1) * PARTITION_SPAN],
      );
      if (rows.length > 0) return rows;
    }
  }
  const { rows } = await q.query<R>(`${select} WHERE d.id = $1`, [id]);
  return rows;
}
