import { newEventId } from '../domain/ids.js';
import type { EventType } from '../domain/events.js';
import type { DisabledBy, SubscriptionFilter } from '../domain/ownership.js';
import type { Db, Queryable } from './db.js';

export type SubscriptionStatus = 'active' | 'paused' | 'disabled';

export interface Subscription {
  id: string;
  url: string;
  /** null: every event type */
  eventTypes: EventType[] | null;
  /** the one location of a location-scoped subscription; null when organization-scoped */
  locationId: number | null;
  organizationId: number;
  /** the partner app that owns it; null for the gym's own */
  appId: string | null;
  description: string | null;
  status: SubscriptionStatus;
  disabledReason: string | null;
  /** who disabled it, when the gym, the operator or its app did; null when its failures did (or it is not disabled) */
  disabledBy: DisabledBy | null;
  /** until when the previous secret still signs, during a rotation */
  previousSecretExpiresAt: string | null;
  lastSuccessAt: string | null;
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  id: string;
  url: string;
  event_types: EventType[] | null;
  location_id: number | null;
  organization_id: number;
  app_id: string | null;
  description: string | null;
  status: SubscriptionStatus;
  disabled_reason: string | null;
  disabled_by: DisabledBy | null;
  previous_secret_expires_at: Date | null;
  last_success_at: Date | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, url, event_types, location_id, organization_id, app_id, description, status,
  disabled_reason, disabled_by, previous_secret_expires_at, last_success_at, failing_since, created_at, updated_at`;

const iso = (d: Date | null) => d?.toISOString() ?? null;

const toSubscription = (r: Row): Subscription => ({
  id: r.id,
  url: r.url,
  eventTypes: r.event_types,
  locationId: r.location_id,
  organizationId: r.organization_id,
  appId: r.app_id,
  description: r.description,
  status: r.status,
  disabledReason: r.disabled_reason,
  disabledBy: r.disabled_by,
  previousSecretExpiresAt: iso(r.previous_secret_expires_at),
  lastSuccessAt: iso(r.last_success_at),
  failingSince: iso(r.failing_since),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export async function createSubscription(
  q: Queryable,
  input: {
    url: string;
    eventTypes: EventType[] | null;
    locationId: number | null;
    organizationId: number;
    description: string | null;
    /** the stored form, or what makes it from the new subscription's id (a secret sealed for it) */
    secret: string | ((subscriptionId: string) => string);
    /** the owner (default: none, the gym's own) */
    appId?: string | null;
    /** the API key that created it (default: none, the operator) */
    createdByKeyId?: number | null;
  },
): Promise<Subscription> {
  const id = `sub_${newEventId()}`;
  const { rows } = await q.query<Row>(
    `INSERT INTO subscriptions (id, url, event_types, location_id, organization_id, description, secret,
       app_id, created_by_key_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [
      id,
      input.url,
      input.eventTypes,
      input.locationId,
      input.organizationId,
      input.description,
      typeof input.secret === 'string' ? input.secret : input.secret(id),
      input.appId ?? null,
      input.createdByKeyId ?? null,
    ],
  );
  return toSubscription(rows[0]!);
}

/**
 * The subscriptions `filter` lets a caller see (`subscriptionFilter`): its scope's (all, one
 * organization's with its locations', or one location's), and for a partner key its app's only.
 * $1 … $4 of a statement that appends it.
 */
const FILTER = `($1::bigint IS NULL OR organization_id = $1) AND ($2::bigint IS NULL OR location_id = $2)
  AND (NOT $3::boolean OR app_id = $4)`;
const filterParams = (f: SubscriptionFilter) => [
  f.organizationId,
  f.locationId,
  f.ownApp !== undefined,
  f.ownApp?.appId ?? null,
];

export async function getSubscription(
  q: Queryable,
  id: string,
  filter: SubscriptionFilter,
  opts: { forUpdate?: boolean } = {},
): Promise<Subscription | undefined> {
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM subscriptions WHERE ${FILTER} AND id = $5${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [...filterParams(filter), id],
  );
  return rows[0] && toSubscription(rows[0]);
}

/** What `filter` lets a caller see; `appId` narrows to one app's (`null`: the gym's own). */
export async function listSubscriptions(
  q: Queryable,
  filter: SubscriptionFilter,
  opts: { appId?: string | null } = {},
): Promise<Subscription[]> {
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM subscriptions
     WHERE ${FILTER} AND (NOT $5::boolean OR app_id IS NOT DISTINCT FROM $6)
     ORDER BY created_at, id`,
    [...filterParams(filter), opts.appId !== undefined, opts.appId ?? null],
  );
  return rows.map(toSubscription);
}

export async function updateSubscription(
  q: Queryable,
  id: string,
  patch: {
    url?: string;
    eventTypes?: EventType[] | null;
    description?: string | null;
    /** `disabled` comes with who disabled it */
    status?: { to: 'active' | 'paused' } | { to: 'disabled'; by: DisabledBy };
    /** a new owner (the operator moves a subscription between apps and the gym) */
    appId?: string | null;
  },
): Promise<Subscription> {
  const by = patch.status?.to === 'disabled' ? patch.status.by : null;
  const { rows } = await q.query<Row>(
    `UPDATE subscriptions SET
       url = coalesce($2, url),
       event_types = CASE WHEN $3::boolean THEN $4::text[] ELSE event_types END,
       description = CASE WHEN $5::boolean THEN $6 ELSE description END,
       status = coalesce($7, status),
       -- a status set by hand replaces the failures' reason; re-enabling starts the failure clock afresh
       disabled_reason = CASE WHEN $7 IS NULL THEN disabled_reason
                              WHEN $7 = 'disabled' THEN 'disabled by the ' || $8 ELSE NULL END,
       disabled_by = CASE WHEN $7 IS NULL THEN disabled_by ELSE $8 END,
       failing_since = CASE WHEN $7 = 'active' AND status = 'disabled' THEN NULL ELSE failing_since END,
       app_id = CASE WHEN $9::boolean THEN $10 ELSE app_id END,
       updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      patch.url ?? null,
      'eventTypes' in patch,
      patch.eventTypes ?? null,
      'description' in patch,
      patch.description ?? null,
      patch.status?.to ?? null,
      by,
      'appId' in patch,
      patch.appId ?? null,
    ],
  );
  return toSubscription(rows[0]!);
}

/** Deletes a subscription with its deliveries and their attempt log. */
export async function deleteSubscription(q: Queryable, id: string): Promise<void> {
  await q.query(
    `WITH gone AS (DELETE FROM subscriptions WHERE id = $1 RETURNING id),
     -- (each status group named: finished ones through the history index, unfinished through the
     -- order index; migration 014)
     gone_deliveries AS (
       DELETE FROM deliveries WHERE subscription_id IN (SELECT id FROM gone)
         AND (status IN ('succeeded', 'failed') OR status IN ('pending', 'sending'))
       RETURNING id)
     DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM gone_deliveries)`,
    [id],
  );
}

/**
 * A new secret signs from now on; the previous one keeps signing until `overlapMs` from now, so
 * partners can switch without rejecting a single delivery.
 */
export async function rotateSecret(
  q: Queryable,
  id: string,
  secret: string,
  overlapMs: number,
): Promise<{ previousSecretExpiresAt: string }> {
  const { rows } = await q.query<{ expires: Date }>(
    `UPDATE subscriptions SET previous_secret = secret, secret = $2,
       previous_secret_expires_at = now() + $3::bigint * interval '1 millisecond', updated_at = now()
     WHERE id = $1 RETURNING previous_secret_expires_at AS expires`,
    [id, secret, overlapMs],
  );
  return { previousSecretExpiresAt: rows[0]!.expires.toISOString() };
}

/**
 * Rewrites every stored signing secret that `reseal` changes (it returns the new stored form, or
 * undefined to leave one as it is), in one transaction: `fpt-events seal-secrets`. Returns how many
 * values were rewritten.
 */
export async function resealSecrets(
  db: Db,
  reseal: (stored: string, subscriptionId: string) => string | undefined,
): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string; secret: string; previous_secret: string | null }>(
      'SELECT id, secret, previous_secret FROM subscriptions ORDER BY id FOR UPDATE',
    );
    let rewritten = 0;
    for (const r of rows) {
      const secret = reseal(r.secret, r.id);
      const previous = r.previous_secret === null ? undefined : reseal(r.previous_secret, r.id);
      if (secret === undefined && previous === undefined) continue;
      rewritten += (secret === undefined ? 0 : 1) + (previous === undefined ? 0 : 1);
      await tx.query('UPDATE subscriptions SET secret = $2, previous_secret = $3 WHERE id = $1', [
        r.id,
        secret ?? r.secret,
        previous ?? r.previous_secret,
      ]);
    }
    return rewritten;
  });
}

/** How many stored signing secrets (current or previous) are kept in clear, not sealed. */
export async function countClearSecrets(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    `SELECT (count(*) FILTER (WHERE secret NOT LIKE 'fptenc:%')
           + count(*) FILTER (WHERE previous_secret NOT LIKE 'fptenc:%'))::int AS n
       FROM subscriptions`,
  );
  return rows[0]?.n ?? 0;
}
