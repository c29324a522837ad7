import { lockAuditLog } from '../audit-log.js';
import type { Tx } from '../db.js';
import { sqlArray } from '../sql-array.js';
import { parkInactive } from './park.js';
import { inPartitionOf, indexLookupsOnly } from './queue.js';

/** How one attempt ended, as the worker records it. */
export interface Completion {
  deliveryId: string;
  /** the delivery's event (null: a test delivery), as claimed: the row's partition key */
  eventSeq: number | null;
  subscriptionId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  outcome: 'succeeded' | 'retry' | 'failed' | 'disabled';
  /** for a retry: when */
  nextAttemptAt: Date | null;
  /** for disabled: why the subscription stops */
  reason: string | null;
  /** the signature headers sent (`x-fpt-signature`, `webhook-signature`); absent when none was sent */
  signatures?: { fpt: string; standard: string };
}

/** A link of a chain that was not sent because a link ahead of it failed: it goes back to the queue. */
export interface Release {
  deliveryId: string;
  eventSeq: number | null;
  attempt: number;
}

/** Days without a single success after which a failing subscription is disabled. */
export const DISABLE_AFTER_FAILING_DAYS = 5;

/**
 * Text from an endpoint, as the attempt log can keep it: PostgreSQL refuses the NUL character in
 * text, and one answer holding it failed its whole batch, again on every retry, wedging the worker
 * (found by a test answering binary bytes); it is kept as U+FFFD, like any undecodable byte.
 */
function loggable(text: string | null): string | null {
  return text === null || !text.includes('\u0000') ? text : text.replaceAll('\u0000', '\uFFFD');
}

/**
 * Records a batch of attempts in one transaction: the attempt log, the deliveries' new states,
 * and what they mean for their subscriptions (last success, failing since, disabled). A completion
 * whose lease was lost meanwhile (another worker re-claimed the delivery) changes nothing but the log.
 */
export async function completeDeliveries(
  tx: Tx,
  done: readonly Completion[],
  released: readonly Release[] = [],
  /** the subscriptions whose success to note now (default: every one that succeeded in `done`) */
  noteSuccess?: readonly string[],
): Promise<{ finished: FinishedPair[] }> {
  if (released.length === 0 && done.length === 0) return { finished: [] };
  // Every statement below finds its deliveries by id, one primary-key lookup per entry. The lease
  // check (still `sending`, at the attempt this worker made) compares with `u.leased`, a column of
  // the materialized input, never with the constant: the statistics, taken when the queue was all
  // pending, put the leased rows at about one, and the planner then scanned them all once per
  // outcome (measured: 1.1 s for a batch of 448 outcomes, against a few ms).
  await indexLookupsOnly(tx);
  if (released.length > 0) {
    await tx.query(
      `WITH u AS MATERIALIZED (
         SELECT *, 'sending' AS leased FROM unnest($1::text[], $2::int[], $3::bigint[]) AS u (id, attempt, event_seq))
       UPDATE deliveries d SET status = 'pending', attempts = d.attempts - 1, next_attempt_at = now()
       FROM u WHERE d.id = u.id AND ${inPartitionOf('d', 'u')} AND d.status = u.leased AND d.attempts = u.attempt`,
      [
        sqlArray(released.map((r) => r.deliveryId)),
        sqlArray(released.map((r) => r.attempt)),
        sqlArray(released.map((r) => r.eventSeq)),
      ],
    );
  }
  if (done.length === 0) return { finished: [] };
  // the attempt log and the deliveries' new states in one statement, which also names the contacts
  // whose delivery finished (their next one may now go; see `successorsWaiting`)
  const { rows: finished } = await tx.query<{ subscription_id: string; contact_id: number }>(
    `WITH u AS MATERIALIZED (
       SELECT *, 'sending' AS leased FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::bigint[], $11::text[], $12::text[], $13::text[])
         AS u (id, attempt, started_at, duration_ms, status_code, response_body, error, outcome, next_at, event_seq, subscription_id, fpt_signature, webhook_signature)),
     updated AS (
       UPDATE deliveries d SET
         status = CASE u.outcome WHEN 'succeeded' THEN 'succeeded' WHEN 'retry' THEN 'pending' ELSE 'failed' END,
         next_attempt_at = coalesce(u.next_at, d.next_attempt_at),
         completed_at = CASE WHEN u.outcome = 'retry' THEN NULL ELSE now() END,
         last_status_code = u.status_code,
         last_error = u.error
       FROM u WHERE d.id = u.id AND ${inPartitionOf('d', 'u')} AND d.status = u.leased AND d.attempts = u.attempt
       RETURNING d.subscription_id, d.contact_id, u.outcome),
     logged AS (
       INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, error, outcome,
                                      event_seq, subscription_id, fpt_signature, webhook_signature)
       SELECT id, attempt, started_at, duration_ms, status_code, response_body, error, outcome,
              event_seq, subscription_id, fpt_signature, webhook_signature FROM u)
     SELECT DISTINCT subscription_id, contact_id FROM updated WHERE outcome <> 'retry'`,
    [
      sqlArray(done.map((c) => c.deliveryId)),
      sqlArray(done.map((c) => c.attempt)),
      sqlArray(done.map((c) => c.startedAt)),
      sqlArray(done.map((c) => Math.round(c.durationMs))),
      sqlArray(done.map((c) => c.statusCode)),
      sqlArray(done.map((c) => loggable(c.responseBody))),
      sqlArray(done.map((c) => loggable(c.error))),
      sqlArray(done.map((c) => c.outcome)),
      sqlArray(done.map((c) => c.nextAttemptAt)),
      sqlArray(done.map((c) => c.eventSeq)),
      sqlArray(done.map((c) => c.subscriptionId)),
      sqlArray(done.map((c) => c.signatures?.fpt ?? null)),
      sqlArray(done.map((c) => c.signatures?.standard ?? null)),
    ],
  );
  const retrying = done.filter((c) => c.outcome === 'retry');
  if (retrying.length > 0) {
    // the contact's later deliveries cannot go before this one: keep them out of the due range
    await tx.query(
      `UPDATE deliveries p SET next_attempt_at = greatest(p.next_attempt_at, u.next_at)
       FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS u (id, next_at, event_seq)
       JOIN deliveries h ON h.id = u.id AND ${inPartitionOf('h', 'u')}
       WHERE p.subscription_id = h.subscription_id AND p.contact_id = h.contact_id
         AND p.event_seq > h.event_seq AND p.status = 'pending'`,
      [
        sqlArray(retrying.map((c) => c.deliveryId)),
        sqlArray(retrying.map((c) => c.nextAttemptAt)),
        sqlArray(retrying.map((c) => c.eventSeq)),
      ],
    );
  }
  const failed = [...new Set(done.filter((c) => c.outcome !== 'succeeded').map((c) => c.subscriptionId))];
  const succeeded = [...new Set(done.filter((c) => c.outcome === 'succeeded').map((c) => c.subscriptionId))];
  const gone = done.filter((c) => c.outcome === 'disabled');
  const noted = noteSuccess ?? succeeded;
  if (noted.length > 0) {
    // (written at most once a second per subscription: under load every batch has successes, and a
    // row rewritten by every batch of every worker would be the hottest row of the queue)
    await tx.query(
      `UPDATE subscriptions SET last_success_at = now(), failing_since = NULL WHERE id = ANY ($1::text[])
         AND (failing_since IS NOT NULL OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')`,
      [noted],
    );
  }
  // A subscription disabled below (410 Gone, or five days failing) has its audit entry written by
  // a trigger (migration 008), which numbers it: the audit log's lock must be held first, as
  // `insertAudit` holds it, or a reader's cursor could pass over the entry. Taken only when one
  // may be disabled, and after the subscriptions' rows, in the order a route takes both.
  if (failed.length > 0) {
    const { rows } = await tx.query<{ due: boolean }>(
      `SELECT coalesce(bool_or(status = 'active' AND failing_since < now() - $2::int * interval '1 day'
                               AND NOT (id = ANY ($3::text[]))), false) AS due
       FROM (SELECT id, status, failing_since FROM subscriptions WHERE id = ANY ($1::text[]) ORDER BY id FOR UPDATE) s`,
      [failed, DISABLE_AFTER_FAILING_DAYS, succeeded],
    );
    if (gone.length > 0 || rows[0]!.due) await lockAuditLog(tx);
    await tx.query(
      `UPDATE subscriptions SET failing_since = coalesce(failing_since, now()),
         status = CASE WHEN status = 'active' AND coalesce(failing_since, now()) < now() - $2::int * interval '1 day'
                       THEN 'disabled' ELSE status END,
         disabled_reason = CASE WHEN status = 'active' AND coalesce(failing_since, now()) < now() - $2::int * interval '1 day'
                       THEN 'no successful delivery for ' || $2::int || ' days' ELSE disabled_reason END,
         updated_at = now()
       WHERE id = ANY ($1::text[]) AND NOT (id = ANY ($3::text[]))`,
      [failed, DISABLE_AFTER_FAILING_DAYS, succeeded],
    );
  }
  for (const g of gone) {
    await tx.query(
      `UPDATE subscriptions SET status = 'disabled', disabled_reason = $2, updated_at = now() WHERE id = $1`,
      [g.subscriptionId, g.reason],
    );
  }
  if (failed.length > 0) await parkInactive(tx, failed);
  return { finished: finished.map((f) => ({ subscriptionId: f.subscription_id, contactId: f.contact_id })) };
}

/** A contact whose delivery to a subscription has finished. */
export interface FinishedPair {
  subscriptionId: string;
  contactId: number;
}

/**
 * Whether any of these contacts has a pending delivery to the subscription, which their finished
 * one may have freed. Asked after the completion has committed: a next delivery committed before
 * the question is seen here, and one committed after it is claimed on its own signal, by a claim
 * that then sees the finished one. (Where nothing else can commit meanwhile, the embedded engine,
 * it may be asked inside the completion's own transaction.)
 */
export async function successorsWaiting(tx: Tx, pairs: readonly FinishedPair[]): Promise<boolean> {
  if (pairs.length === 0) return false;
  await indexLookupsOnly(tx);
  // One probe of the order index per pair, a lateral subquery with a limit. As `EXISTS`, with
  // statistics that had seen nothing unfinished, it was planned as every pending delivery compared
  // with every pair (200 ms for a batch on the filled database of bench/data-scale.ts).

  const { rows } = await tx.query<{ waiting: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM unnest($1::text[], $2::bigint[]) AS x (sub, contact)
       CROSS JOIN LATERAL (
         SELECT 1 FROM deliveries p
         WHERE p.subscription_id = x.sub AND p.contact_id = x.contact AND p.status = 'pending'
         LIMIT 1) p) AS waiting`,
    [sqlArray(pairs.map((p) => p.subscriptionId)), sqlArray(pairs.map((p) => p.contactId))],
  );
  return rows[0]!.waiting;
}
