import type { ContactEvent } from '../../domain/events.js';
import type { Queryable } from '../db.js';
import { FIRST_DUE, PARKED } from './queue.js';

/**
 * Sends a delivery again now, as a fresh run of the retry schedule: a failed or succeeded one is
 * queued again; a pending one waiting for its next attempt is brought forward. One being sent is
 * left alone (false).
 */
export async function retryDelivery(q: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE deliveries d SET status = 'pending', attempts = 0, completed_at = NULL,
       next_attempt_at = CASE WHEN s.status = 'active' THEN now() ELSE ${PARKED} END
     FROM subscriptions s WHERE d.id = $1 AND s.id = d.subscription_id AND d.status <> 'sending'`,
    [id],
  );
  return rowCount === 1;
}

/**
 * Replays a subscription from `since`: its deliveries created since then in the given statuses
 * are queued again as fresh runs; with no status, every event since then that the subscription
 * wants is sent again, including events it has no delivery for (say, while it was disabled).
 */
export async function replay(
  q: Queryable,
  subscriptionId: string,
  since: Date,
  status: 'failed' | 'succeeded' | undefined,
): Promise<{ requeued: number; created: number }> {
  const { rowCount: requeued } = await q.query(
    `UPDATE deliveries d SET status = 'pending', attempts = 0, completed_at = NULL,
       next_attempt_at = CASE WHEN s.status = 'active' THEN now() ELSE ${PARKED} END
     FROM subscriptions s
     WHERE s.id = $1 AND d.subscription_id = s.id AND d.created_at >= $2 AND d.event_seq IS NOT NULL
       AND d.status = ANY ($3::text[])`,
    [subscriptionId, since, status === undefined ? ['failed', 'succeeded'] : [status]],
  );
  if (status !== undefined) return { requeued, created: 0 };
  const { rowCount: created } = await q.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, next_attempt_at)
     SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), s.id, e.seq, e.contact_id,
            ${FIRST_DUE('s', 'e.contact_id')}
     FROM subscriptions s
     JOIN events e ON e.event_timestamp >= $2
       AND (s.location_id = e.location_id OR (s.location_id IS NULL AND s.organization_id = e.organization_id))
       AND (s.event_types IS NULL OR e.event_type = ANY (s.event_types))
     WHERE s.id = $1
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.event_seq = e.seq)
     ORDER BY e.seq`,
    [subscriptionId, since],
  );
  return { requeued, created };
}

/** A synthetic event for one subscription, delivered like any other but never stored as an event. */
export async function insertTestDelivery(
  q: Queryable,
  subscriptionId: string,
  envelope: ContactEvent,
): Promise<string> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO deliveries (id, subscription_id, test_payload, contact_id, next_attempt_at)
     SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), s.id, $2, 0,
            CASE WHEN s.status = 'active' THEN now() ELSE ${PARKED} END
     FROM subscriptions s WHERE s.id = $1 RETURNING id`,
    [subscriptionId, JSON.stringify(envelope)],
  );
  return rows[0]!.id;
}
