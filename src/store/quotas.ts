import type { Queryable, Tx } from './db.js';

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
 * `status`, or both), and, when no status is given, the events since then it never had.
 * The same selection as `replay` in deliveries.ts.
 */
export async function countReplay(
  q: Queryable,
  subscriptionId: string,
  since: Date,
  status: 'failed' | 'succeeded' | undefined,
  atMost: number,
): Promise<number> {
  const statuses = status === undefined ? ['failed', 'succeeded'] : [status];
  const { rows } = await q.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM (
               SELECT 1 FROM deliveries d
               WHERE d.subscription_id = $1 AND d.created_at >= $2 AND d.event_seq IS NOT NULL
                 AND d.status = ANY ($3::text[])
               LIMIT $4) r)::int
          + (CASE WHEN $5::boolean THEN 0 ELSE (SELECT count(*) FROM (
               SELECT 1 FROM subscriptions s
               JOIN events e ON e.event_timestamp >= $2
                 AND (s.location_id = e.location_id OR (s.location_id IS NULL AND s.organization_id = e.organization_id))
                 AND (s.event_types IS NULL OR e.event_type = ANY (s.event_types))
               WHERE s.id = $1
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.event_seq = e.seq)
               LIMIT $4) c) END)::int AS n`,
    [subscriptionId, since, statuses, atMost + 1, status !== undefined],
  );
  return rows[0]!.n;
}
