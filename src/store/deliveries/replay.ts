import type { Queryable } from '../db.js';
import { FIRST_DUE, PARKED } from './queue.js';

/**
 * What a replay of subscription `$1` since `$2` selects, shared by the replay and by the count that
 * bounds it (`countReplay`): written once, so the bound always counts what the replay would queue.
 *
 * Each part is answered by an index whose cost follows the rows it returns, not the rows stored
 * (migration 010): the finished deliveries through `deliveries_replay_idx` (subscription, status,
 * created_at; one range per status), and the events through `events_location_time_idx` or
 * `events_organization_time_idx`, one location's (or organization's) events since then rather than
 * every tenant's. The two scopes are two branches; the one that does not apply is never run.
 */
export const REPLAY_FINISHED = `d.subscription_id = $1 AND d.created_at >= $2 AND d.event_seq IS NOT NULL
       AND d.status IN ('failed', 'succeeded') AND d.status = ANY ($3::text[])`;

/** The events since `$2` that subscription `s` (`s.id = $1`) wants and has no delivery for. */
export const REPLAY_MISSED = `FROM subscriptions s
     CROSS JOIN LATERAL (
       SELECT e.seq, e.contact_id, e.event_type FROM events e
       WHERE e.location_id = s.location_id AND e.event_timestamp >= $2
       UNION ALL
       SELECT e.seq, e.contact_id, e.event_type FROM events e
       WHERE s.location_id IS NULL AND e.organization_id = s.organization_id AND e.event_timestamp >= $2) e
     WHERE s.id = $1
       AND (s.event_types IS NULL OR e.event_type = ANY (s.event_types))
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.event_seq = e.seq)`;

/** The statuses a replay requeues: the one asked for, or both. */
export const replayStatuses = (status: 'failed' | 'succeeded' | undefined): string[] =>
  status === undefined ? ['failed', 'succeeded'] : [status];

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
     WHERE s.id = $1 AND ${REPLAY_FINISHED}`,
    [subscriptionId, since, replayStatuses(status)],
  );
  if (status !== undefined) return { requeued, created: 0 };
  const { rowCount: created } = await q.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, next_attempt_at)
     SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), s.id, e.seq, e.contact_id,
            ${FIRST_DUE('s', 'e.contact_id')}
     ${REPLAY_MISSED}
     ORDER BY e.seq`,
    [subscriptionId, since],
  );
  return { requeued, created };
}
