import type { Queryable } from './db.js';

/** Who did it: the operator, an API key, or the service itself. */
export type AuditActor =
  { type: 'operator'; id: null } | { type: 'api_key'; id: number } | { type: 'system'; id: null };

/** One audit-log entry to write. */
export interface AuditEntry {
  actor: AuditActor;
  /** the client's address (null for the command line and the service itself) */
  clientAddress: string | null;
  /** what was done, `<target type>.<verb>`: `subscription.created`, `api_key.revoked`, … */
  action: string;
  targetType: string;
  targetId: string | number;
  /** the scope the target belongs to, which says which staff keys read the entry */
  organizationId: number | null;
  locationId: number | null;
  details?: Record<string, unknown>;
}

/** One entry as the API shows it. */
export interface AuditRecord {
  seq: string;
  at: string;
  actor: { type: AuditActor['type']; id: number | null };
  clientAddress: string | null;
  action: string;
  target: { type: string; id: string };
  organizationId: number | null;
  locationId: number | null;
  details: Record<string, unknown>;
}

/**
 * Writes one entry; call it with the transaction of the action, so that both commit or neither.
 * As events are (`insertEvents`), entries are numbered under a lock held until their transaction
 * ends, so that they become visible in `seq` order and the log's cursor never steps over one; call
 * it as the action's last statement, so the lock is held for the commit only.
 */
export async function insertAudit(q: Queryable, e: AuditEntry): Promise<void> {
  await lockAuditLog(q);
  await q.query(
    `INSERT INTO audit_log (actor_type, actor_id, client_address, action, target_type, target_id,
       organization_id, location_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      e.actor.type,
      e.actor.id,
      e.clientAddress,
      e.action,
      e.targetType,
      String(e.targetId),
      e.organizationId,
      e.locationId,
      JSON.stringify(e.details ?? {}),
    ],
  );
}

/**
 * Takes the lock under which audit entries are numbered, held until the transaction ends. Also for
 * a transaction whose change has the database write an entry (a trigger: a subscription the
 * service disables, migration 008): take it before that change.
 */
export async function lockAuditLog(q: Queryable): Promise<void> {
  await q.query(`SELECT pg_advisory_xact_lock(hashtext('fpt-events:audit:' || current_schema()))`);
}

interface Row {
  seq: string;
  at: Date;
  actor_type: AuditActor['type'];
  actor_id: string | null;
  client_address: string | null;
  action: string;
  target_type: string;
  target_id: string;
  organization_id: string | null;
  location_id: string | null;
  details: Record<string, unknown>;
}

const num = (v: string | null) => (v === null ? null : Number(v));

/**
 * Entries after the cursor `after`, oldest first, within a scope: everything (null, null), an
 * organization's (its own and its locations'), or one location's. Entries are numbered under a
 * lock held to their commit (`lockAuditLog`), so they become visible in `seq` order: reading on
 * from the last entry's `seq` misses none.
 */
export async function listAudit(
  q: Queryable,
  opts: {
    after: number;
    limit: number;
    organizationId: number | null;
    locationId: number | null;
    action?: string | undefined;
    targetId?: string | undefined;
  },
): Promise<AuditRecord[]> {
  const { rows } = await q.query<Row>(
    `SELECT seq::text, at, actor_type, actor_id::text, client_address, action, target_type, target_id,
            organization_id::text, location_id::text, details
     FROM audit_log
     WHERE seq > $1
       AND ($2::bigint IS NULL OR organization_id = $2)
       AND ($3::bigint IS NULL OR location_id = $3)
       AND ($4::text IS NULL OR action = $4)
       AND ($5::text IS NULL OR target_id = $5)
     ORDER BY audit_log.seq LIMIT $6`,
    [
      opts.after,
      opts.organizationId,
      opts.locationId,
      opts.action ?? null,
      opts.targetId ?? null,
      opts.limit,
    ],
  );
  return rows.map((r) => ({
    seq: r.seq,
    at: r.at.toISOString(),
    actor: { type: r.actor_type, id: num(r.actor_id) },
    clientAddress: r.client_address,
    action: r.action,
    target: { type: r.target_type, id: r.target_id },
    organizationId: num(r.organization_id),
    locationId: num(r.location_id),
    details: r.details,
  }));
}

/** Deletes up to `limit` entries older than the retention period; returns how many. */
export async function purgeAudit(q: Queryable, retentionDays: number, limit: number): Promise<number> {
  const { rowCount } = await q.query(
    `DELETE FROM audit_log WHERE seq IN (
       SELECT seq FROM audit_log WHERE at < now() - $1::int * interval '1 day' ORDER BY seq LIMIT $2)`,
    [retentionDays, limit],
  );
  return rowCount;
}
