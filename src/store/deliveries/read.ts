import type { ContactEvent } from '../../domain/events.js';
import type { Snapshot } from '../db.js';
import { selectDeliveryById } from './by-id.js';
import type { Completion } from './complete.js';
import type { DeliveryStatus } from './queue.js';

export interface AttemptView {
  attempt: number;
  at: string;
  durationMs: number;
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  outcome: Completion['outcome'];
}

export interface DeliveryView {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  contactId: number;
  isTest: boolean;
  status: DeliveryStatus;
  /** attempts in the current run of the retry schedule */
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  completedAt: string | null;
  attemptLog: AttemptView[];
}

interface DeliveryRow {
  seq: number;
  id: string;
  event_seq: number | null;
  subscription_id: string;
  event_id: string | null;
  event_type: string | null;
  test_payload: ContactEvent | null;
  contact_id: number;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

const DELIVERY_COLUMNS = `d.seq, d.id, d.event_seq, d.subscription_id, e.event_id, e.event_type, d.test_payload,
  d.contact_id, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.completed_at`;

/** An attempt-log row, as `ATTEMPT_COLUMNS` reads it. */
export interface AttemptRow {
  attempt: number;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
  outcome: Completion['outcome'];
}

export const ATTEMPT_COLUMNS = 'attempt, started_at, duration_ms, status_code, response_body, error, outcome';

export const attemptView = (a: AttemptRow): AttemptView => ({
  attempt: a.attempt,
  at: a.started_at.toISOString(),
  durationMs: a.duration_ms,
  statusCode: a.status_code,
  responseBody: a.response_body,
  error: a.error,
  outcome: a.outcome,
});

async function withAttempts(q: Snapshot, rows: DeliveryRow[]): Promise<DeliveryView[]> {
  const { rows: attempts } = await q.query<AttemptRow & { delivery_id: string }>(
    `SELECT delivery_id, ${ATTEMPT_COLUMNS} FROM delivery_attempts WHERE delivery_id = ANY ($1::text[])
       -- their partitions (and the test deliveries'), not every partition's index
       AND (event_seq = ANY ($2::bigint[]) OR event_seq IS NULL)
     ORDER BY id`,
    [rows.map((r) => r.id), [...new Set(rows.flatMap((r) => (r.event_seq === null ? [] : [r.event_seq])))]],
  );
  const byDelivery = new Map<string, AttemptView[]>();
  for (const a of attempts) {
    const list = byDelivery.get(a.delivery_id) ?? [];
    list.push(attemptView(a));
    byDelivery.set(a.delivery_id, list);
  }
  return rows.map((r) => ({
    id: r.id,
    subscriptionId: r.subscription_id,
    eventId: r.event_id ?? r.test_payload!.eventId,
    eventType: r.event_type ?? r.test_payload!.eventType,
    contactId: r.contact_id,
    isTest: r.test_payload !== null,
    status: r.status,
    attempts: r.attempts,
    // null while parked (subscription paused or disabled) or not pending
    nextAttemptAt:
      r.status === 'pending' && Number.isFinite(+r.next_attempt_at) ? r.next_attempt_at.toISOString() : null,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
    attemptLog: byDelivery.get(r.id) ?? [],
  }));
}

const STATUSES: readonly DeliveryStatus[] = ['pending', 'sending', 'succeeded', 'failed'];

/** What a subscription's deliveries may be filtered by (all optional, all combined). */
export interface DeliveryFilter {
  status?: DeliveryStatus;
  eventType?: string;
  contactId?: number;
  /** created at or after */
  since?: Date;
  /** created before */
  until?: Date;
}

/**
 * A subscription's deliveries, newest first, with their attempts. Each finished status asked for is
 * one range of `deliveries_history_idx` (subscription, status, seq) of finished deliveries, walked
 * backwards from the cursor for at most `limit` rows; each unfinished status is read from the order
 * index (the subscription's unfinished deliveries, the backlog, sorted); the rows are then merged.
 * So a page costs at most `limit` rows per finished status, however many deliveries the subscription
 * has stored or how rare the status is, and the subscription's backlog for the unfinished ones. The other filters (event type, contact, time) are checked on each range's rows as it
 * is walked; only the filters given are in the statement.
 */
export async function listDeliveries(
  q: Snapshot,
  subscriptionId: string,
  opts: DeliveryFilter & { before?: number; limit: number },
): Promise<{ data: DeliveryView[]; nextCursor: string | null }> {
  const statuses = opts.status === undefined ? STATUSES : STATUSES.filter((s) => s === opts.status);
  const params: unknown[] = [subscriptionId];
  const where: string[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(` AND ${sql(`$${params.length}`)}`);
  };
  if (opts.before !== undefined) add((p) => `y.seq < ${p}::bigint`, opts.before);
  if (opts.eventType !== undefined)
    add(
      (p) =>
        `coalesce((SELECT ev.event_type FROM events ev WHERE ev.seq = y.event_seq), y.test_payload->>'eventType') = ${p}`,
      opts.eventType,
    );
  if (opts.contactId !== undefined) add((p) => `y.contact_id = ${p}::bigint`, opts.contactId);
  if (opts.since !== undefined) add((p) => `y.created_at >= ${p}::timestamptz`, opts.since);
  if (opts.until !== undefined) add((p) => `y.created_at < ${p}::timestamptz`, opts.until);
  params.push(opts.limit);
  const limit = `$${params.length}`;
  // one branch per status, each naming its status as a constant: the planner proves from it which
  // partial index applies (finished: the history index; unfinished: the order index)
  const branches = statuses.map(
    (status) =>
      `(SELECT * FROM deliveries y
        WHERE y.subscription_id = $1 AND y.status = '${status}'${where.join('')}
        ORDER BY y.seq DESC LIMIT ${limit})`,
  );
  if (branches.length === 0) return { data: [], nextCursor: null };
  const { rows } = await q.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS}
     FROM (SELECT x.* FROM (${branches.join(' UNION ALL ')}) x
           ORDER BY x.seq DESC LIMIT ${limit}) d
     LEFT JOIN events e ON e.seq = d.event_seq
     ORDER BY d.seq DESC`,
    params,
  );
  const last = rows.at(-1);
  return {
    data: await withAttempts(q, rows),
    nextCursor: rows.length === opts.limit && last ? String(last.seq) : null,
  };
}

export async function getDelivery(q: Snapshot, id: string): Promise<DeliveryView | undefined> {
  const rows = await selectDeliveryById<DeliveryRow>(
    q,
    `SELECT ${DELIVERY_COLUMNS} FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq`,
    id,
  );
  return rows[0] && (await withAttempts(q, rows))[0];
}

/** The deliveries of these events (by event seq) to these subscriptions, oldest first, with their attempts. */
export async function deliveriesOfEvents(
  q: Snapshot,
  eventSeqs: readonly number[],
  subscriptionIds: readonly string[],
): Promise<DeliveryView[]> {
  if (eventSeqs.length === 0 || subscriptionIds.length === 0) return [];
  const { rows } = await q.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq
     WHERE d.event_seq = ANY ($1::bigint[]) AND d.subscription_id = ANY ($2::text[]) ORDER BY d.seq`,
    [eventSeqs, subscriptionIds],
  );
  return withAttempts(q, rows);
}
