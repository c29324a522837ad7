import type { Queryable, Tx } from './db.js';
import { REPLAY_FINISHED, REPLAY_MISSED, replayStatuses } from './deliveries/replay.js';

/**
 * Serializes the creations counted against one quota (an organization's, an app's), until the
 * transaction ends: two concurrent creations cannot both see room for one more.
 */
export async function lockQuota(tx: Tx, name: string): Promise<void> {
  await tx.query(
    `SELECT pg_advisory_xact_lock(hashtext('fpt-events:quota:' || current_schema() || ':' || $1))`,
    [name],
  );
}

export async function countOrganizationSubscriptions(q: Queryable, organizationId: number): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM subscriptions WHERE organization_id = $1',
    [organizationId],
  );
  return rows[0]!.n;
}

/** (`subscriptions.app_id` comes with partner apps, migration 007.) */
export async function countAppSubscriptions(q: Queryable, appId: string | number): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM subscriptions WHERE app_id = $1',
    [appId],
  );
  return rows[0]!.n;
}

/**
 * How many deliveries a replay of `subscriptionId` since `since` would queue, counted up to
 * `atMost + 1` only (enough to say it is too many): its finished deliveries since then (of
 * `status`, or both), and, when no status is given, the events since then it never had. The
 * replay's own selection (`deliveries/replay.ts`), through the same indexes.
 */
export async function countReplay(
  q: Queryable,
  subscriptionId: string,
  since: Date,
  status: 'failed' | 'succeeded' | undefined,
  atMost: number,
): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE ${REPLAY_FINISHED} LIMIT $4) r)::int
          + (CASE WHEN $5::boolean THEN 0
             ELSE (SELECT count(*) FROM (SELECT 1 ${REPLAY_MISSED} LIMIT $4) c) END)::int AS n`,
    [subscriptionId, since, replayStatuses(status), atMost + 1, status !== undefined],
  );
  return rows[0]!.n;
}
