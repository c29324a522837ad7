import type { Queryable } from '../db.js';

/**
 * Gives back every leased delivery, as pending and not attempted (at-least-once: it may have been
 * sent before its process died). Only for a worker that knows it is alone on the store.
 */
export async function releaseAllLeases(q: Queryable): Promise<number> {
  const { rowCount } = await q.query(
    `UPDATE deliveries SET status = 'pending', attempts = attempts - 1, next_attempt_at = now()
     WHERE status = 'sending'`,
  );
  return rowCount;
}
