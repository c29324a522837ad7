import type { Queryable } from '../db.js';
import { PARKED } from './queue.js';

/** Milliseconds until the next delivery attempt falls due in the future, or undefined when none. */
export async function msUntilNextDelivery(q: Queryable): Promise<number | undefined> {
  const { rows } = await q.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(next_attempt_at) - clock_timestamp()) * 1000)::float8 AS ms FROM deliveries
     WHERE status IN ('pending', 'sending') AND next_attempt_at > now() AND next_attempt_at < ${PARKED}`,
  );
  return rows[0]?.ms ?? undefined;
}
