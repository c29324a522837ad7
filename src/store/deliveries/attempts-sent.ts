import { inPublishedOrder, type ContactEvent } from '../../domain/events.js';
import type { Queryable } from '../db.js';
import { rowToEnvelope, type EventRow } from '../events.js';
import { ATTEMPT_COLUMNS, attemptView, type AttemptRow, type AttemptView } from './read.js';
import { selectDeliveryById } from './by-id.js';

/** One logged attempt, with the signature headers it sent (null: not kept, or none sent). */
export interface LoggedAttempt extends AttemptView {
  fptSignature: string | null;
  webhookSignature: string | null;
}

/** A delivery as its requests were made: its identity, its body, and every attempt. */
export interface DeliverySent {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: ContactEvent['eventType'];
  windowId: string | null;
  isTest: boolean;
  /** the bytes every attempt sent */
  body: string;
  attempts: LoggedAttempt[];
}

type DeliveryRow = Omit<EventRow, 'seq' | 'event_id' | 'window_id' | 'event_type' | 'event_timestamp'> & {
  id: string;
  subscription_id: string;
  test_payload: ContactEvent | null;
  event_seq: number | null;
  event_id: string | null;
  window_id: string | null;
  event_type: EventRow['event_type'] | null;
  event_timestamp: Date | null;
};

/**
 * A delivery and its attempts, oldest first, with what tells each request again: every attempt of a
 * delivery sends the same body (built here from the stored event, as the claim builds it) and the
 * same headers but for the attempt number and the signatures, which the attempt log keeps.
 */
export async function deliverySent(q: Queryable, deliveryId: string): Promise<DeliverySent | undefined> {
  const rows = await selectDeliveryById<DeliveryRow>(
    q,
    `SELECT d.id, d.subscription_id, d.test_payload, d.event_seq, e.event_id, e.window_id, e.event_type, e.event_timestamp,
            e.location_id, e.organization_id, e.data
     FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq`,
    deliveryId,
  );
  const d = rows[0];
  if (!d) return undefined;
  const envelope =
    d.test_payload !== null
      ? inPublishedOrder(d.test_payload)
      : rowToEnvelope({
          ...d,
          seq: d.event_seq!,
          event_id: d.event_id!,
          window_id: d.window_id!,
          event_type: d.event_type!,
          event_timestamp: d.event_timestamp!,
        });
  const body = JSON.stringify(envelope);
  const { rows: attempts } = await q.query<
    AttemptRow & { fpt_signature: string | null; webhook_signature: string | null }
  >(
    `SELECT ${ATTEMPT_COLUMNS}, fpt_signature, webhook_signature FROM delivery_attempts
     WHERE delivery_id = $1 AND (event_seq = $2 OR event_seq IS NULL) -- its partition's index, not every one's
     ORDER BY id`,
    [deliveryId, d.event_seq],
  );
  return {
    id: d.id,
    subscriptionId: d.subscription_id,
    eventId: envelope.eventId,
    eventType: envelope.eventType,
    windowId: d.window_id,
    isTest: d.test_payload !== null,
    body,
    attempts: attempts.map((a) => ({
      ...attemptView(a),
      fptSignature: a.fpt_signature,
      webhookSignature: a.webhook_signature,
    })),
  };
}
