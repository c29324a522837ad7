import type { Queryable } from '../db.js';
import { PARKED } from './queue.js';

/** Parks the pending deliveries of those of these subscriptions that are not active. */
export async function parkInactive(tx: Queryable, subscriptionIds: readonly string[]): Promise<void> {
  await tx.query(
    `UPDATE deliveries d SET next_attempt_at = ${PARKED} FROM subscriptions s
     WHERE s.id = ANY ($1::text[]) AND s.status <> 'active'
       AND d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at < ${PARKED}`,
    [subscriptionIds],
  );
}

/** Makes a subscription's parked deliveries due, once it is active again; returns how many. */
export async function unpark(tx: Queryable, subscriptionId: string): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE deliveries SET next_attempt_at = now()
     WHERE subscription_id = $1 AND status = 'pending' AND next_attempt_at = ${PARKED}
       AND (SELECT status FROM subscriptions WHERE id = $1) = 'active'`,
    [subscriptionId],
  );
  return rowCount;
}
