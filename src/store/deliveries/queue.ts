/**
 * What the queue's operations share: the states of a delivery, when one is due, what a claimed one
 * carries, and the planner setting of their transactions. (One module per operation beside this:
 * fan-out, claim, complete, release, park, next-due, read, requeue, replay.)
 */
import type { EventType } from '../../domain/events.js';
import type { Tx } from '../db.js';

export type DeliveryStatus = 'pending' | 'sending' | 'succeeded' | 'failed';

/**
 * Deliveries that cannot be sent are parked at `next_attempt_at = infinity`, outside the due range
 * the claim scans: those of a paused or disabled subscription (until it is active again), so a
 * large paused backlog costs the claim nothing. And a delivery is never due before a retrying
 * delivery ahead of it for the same contact and subscription, so the rows the claim meets are,
 * nearly all, rows it can take.
 */
export const PARKED = `'infinity'::timestamptz`;

/** Now, or later if a delivery of this contact to this subscription is waiting for a retry. */
export const DUE_AFTER_RETRYING = (sub: string, contact: string) => `greatest(now(), (
    SELECT max(p.next_attempt_at) FROM deliveries p
    WHERE p.subscription_id = ${sub} AND p.contact_id = ${contact} AND p.status = 'pending'))`;

/** When a delivery of this subscription may first go: now, parked, or after its contact's retrying one. */
export const FIRST_DUE = (sub: string, contact: string) =>
  `CASE WHEN ${sub}.status <> 'active' THEN ${PARKED} ELSE ${DUE_AFTER_RETRYING(`${sub}.id`, contact)} END`;

/** Every secret that signs now: the current one, and the previous one during a rotation's overlap. */
export function signingSecrets(s: { secret: string; previous_secret: string | null }): string[] {
  return s.previous_secret === null ? [s.secret] : [s.secret, s.previous_secret];
}

/** A claimed delivery, with what the sender needs. */
export interface ClaimedDelivery {
  id: string;
  /** the delivery's event (null: a test delivery): its partition key, which finds its row at once */
  eventSeq: number | null;
  subscriptionId: string;
  /** the subscription's organization: the tenant its sending counts against */
  organizationId: number;
  contactId: number;
  /** the number of this attempt within the current run of the schedule (1 for the first) */
  attempt: number;
  eventId: string;
  eventType: EventType;
  /** the envelope as JSON, exactly the bytes sent and signed */
  body: string;
  windowId: string | null;
  isTest: boolean;
  url: string;
  /** every secret that signs now: the current one, and the previous one during a rotation */
  secrets: string[];
  /** the W3C traceparent of the event's span, when it was traced: its attempts' spans are its children */
  traceparent?: string | null;
}

/**
 * The condition that a delivery row `d` is the one `u` names by `id` and `event_seq` (null for a
 * test delivery). Naming the partition key lets the database look in the event's partition (and
 * the small one of test deliveries) instead of probing every partition's index (docs/design.md,
 * "Partitioned retention").
 */
export const inPartitionOf = (d: string, u: string): string =>
  `(${d}.event_seq = ${u}.event_seq OR (${u}.event_seq IS NULL AND ${d}.event_seq IS NULL))`;

/**
 * Deliveries of one contact sent in order by one claim, at most. Each link's lease covers the links
 * ahead of it; when the worker dies, the next claim of the head takes the rest of the chain over.
 */
export const CHAIN_LIMIT = 10;

/**
 * Statements here look rows up by lists of ids or keys, for which an index lookup per entry is the
 * one good plan. Right after a burst the planner's statistics still describe a nearly empty queue
 * (autovacuum analyzes a minute later at best), and it then chose to scan and hash the whole table
 * (measured: 10–15 ms instead of well under 1 ms). It may not, in this transaction. The worker
 * opens its transactions with `{ indexLookupsOnly: true }`, which sets this with BEGIN; any other
 * caller pays one statement, once per transaction.
 */
export function indexLookupsOnly(tx: Tx): Promise<void> {
  return tx.restrictToIndexLookups();
}
