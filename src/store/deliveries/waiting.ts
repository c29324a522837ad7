import type { Queryable, Snapshot } from '../db.js';
import { getDelivery, type DeliveryView } from './read.js';

/** The unfinished delivery a delivery waits behind, as the retry answer shows it. */
export interface WaitingBehind {
  id: string;
  eventType: string;
  status: 'pending' | 'sending';
  /** when it is next tried (null while being sent, or while its subscription is paused) */
  nextAttemptAt: string | null;
}

/**
 * Events of one contact reach a subscription in the order they were emitted: a delivery is sent
 * only once no earlier delivery of the same contact to the same subscription is unfinished (see
 * `claimDeliveries`). This answers the earliest such delivery, the head of the line, or undefined
 * when the delivery is first in line (test events never wait: they belong to no contact's line).
 * The line is read through the order index from the delivery's contact, a lateral subquery with a
 * limit: as a join, with statistics taken while the queue was drained, it was planned as a walk of
 * every unfinished delivery for one answer (docs/design.md, "The claim's and the completion's
 * probes, one per row").
 */
export async function waitingBehind(q: Queryable, deliveryId: string): Promise<WaitingBehind | undefined> {
  const { rows } = await q.query<{
    id: string;
    event_type: string;
    status: 'pending' | 'sending';
    next_attempt_at: Date;
  }>(
    `SELECT p.id, e.event_type, p.status, p.next_attempt_at
     FROM deliveries d
     CROSS JOIN LATERAL (
       SELECT p.id, p.event_seq, p.status, p.next_attempt_at FROM deliveries p
       WHERE p.subscription_id = d.subscription_id AND p.contact_id = d.contact_id
         AND p.event_seq < d.event_seq AND p.status IN ('pending', 'sending')
       ORDER BY p.event_seq LIMIT 1) p
     JOIN events e ON e.seq = p.event_seq
     WHERE d.id = $1 AND d.event_seq IS NOT NULL`,
    [deliveryId],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  return {
    id: r.id,
    eventType: r.event_type,
    status: r.status,
    nextAttemptAt:
      r.status === 'pending' && Number.isFinite(+r.next_attempt_at) ? r.next_attempt_at.toISOString() : null,
  };
}

/**
 * The delivery and the one it waits behind, as a retry answers: one moment's. Read apart, a worker
 * sending the contact's whole line in between showed the delivery succeeded while still waiting
 * behind one pending.
 */
export async function deliveryInLine(
  q: Snapshot,
  deliveryId: string,
): Promise<(DeliveryView & { waitingBehind: WaitingBehind | null }) | undefined> {
  const d = await getDelivery(q, deliveryId);
  return d && { ...d, waitingBehind: (await waitingBehind(q, deliveryId)) ?? null };
}
