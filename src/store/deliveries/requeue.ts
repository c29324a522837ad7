import type { ContactEvent } from '../../domain/events.js';
import type { Queryable } from '../db.js';
import { PARKED } from './queue.js';

/**
 * Sends a delivery again now, as a fresh run of the retry schedule: a failed or succeeded one is
 * queued again; a pending one waiting for its next attempt is brought forward. One being sent is
 * left alone; one that no longer exists (deleted with its subscription) is gone.
 */
export async function retryDelivery(q: Queryable, id: string): Promise<'queued' | 'sending' | 'gone'> {
  const { rowCount } = await q.query(
    `UPDATE deliveries d SET status = 'pending', attempts = 0, completed_at = NULL,
       next_attempt_at = CASE WHEN s.status = 'active' THEN now() ELSE ${PARKED} END
     FROM subscriptions s WHERE d.id = $1 AND s.id = d.subscription_id AND d.status <> 'sending'`,
    [id],
  );
  if (rowCount === 1) return 'queued';
  const { rows } = await q.query('SELECT 1 FROM deliveries WHERE id = $1', [id]);
  return rows.length > 0 ? 'sending' : 'gone';
}

/**
 * A synthetic event for one subscription, delivered like any other but never stored as an event.
 * Undefined when the subscription no longer exists (deleted since the caller checked it).
 */
export async function insertTestDelivery(
  q: Queryable,
  subscriptionId: string,
  envelope: ContactEvent,
): Promise<string | undefined> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO deliveries (id, subscription_id, test_payload, contact_id, next_attempt_at)
     SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), s.id, $2, 0,
            CASE WHEN s.status = 'active' THEN now() ELSE ${PARKED} END
     FROM subscriptions s WHERE s.id = $1 RETURNING id`,
    [subscriptionId, JSON.stringify(envelope)],
  );
  return rows[0]?.id;
}
