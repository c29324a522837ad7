import type { FastifyRequest } from 'fastify';
import type { Principal } from '../domain/principal.js';
import { insertAudit, type AuditActor } from '../store/audit-log.js';
import type { Queryable } from '../store/db.js';
import { getLocation } from '../store/tenants.js';

/** What a route says about the action it audits; who and from where come from the request. */
export interface AuditedAction {
  /** `<target type>.<verb>`, e.g. `subscription.created` (docs/api.md lists them) */
  action: string;
  targetType: string;
  targetId: string | number;
  /** the target's scope: which staff keys may read the entry (none: the operator only) */
  organizationId?: number | null;
  locationId?: number | null;
  details?: Record<string, unknown>;
}

export function auditActor(p: Principal): AuditActor {
  // a partner app's session the operator opened acts for the operator
  return p.kind === 'operator' || p.keyId === null
    ? { type: 'operator', id: null }
    : { type: 'api_key', id: p.keyId };
}

/**
 * Records a security-relevant action of a request in the audit log. Pass the transaction that does
 * the action: the entry commits with it, and an action that fails leaves none.
 */
export async function recordAudit(tx: Queryable, req: FastifyRequest, a: AuditedAction): Promise<void> {
  await insertAudit(tx, {
    actor: auditActor(req.principal),
    clientAddress: req.ip,
    action: a.action,
    targetType: a.targetType,
    targetId: a.targetId,
    organizationId: a.organizationId ?? null,
    locationId: a.locationId ?? null,
    ...(a.details ? { details: a.details } : {}),
  });
}

/** The audit scope of something at a location: the location, and its organization (if any). */
export function auditScopeOfLocation(loc: { id: number; organizationId: number }): {
  organizationId: number | null;
  locationId: number;
} {
  return { organizationId: loc.organizationId === 0 ? null : loc.organizationId, locationId: loc.id };
}

/** The audit scope of an API key: its organization, or its location and that location's organization. */
export async function auditScopeOfKey(
  q: Queryable,
  key: { organizationId: number | null; locationId: number | null },
): Promise<{ organizationId: number | null; locationId: number | null }> {
  if (key.locationId === null) return { organizationId: key.organizationId, locationId: null };
  const loc = await getLocation(q, key.locationId);
  return loc ? auditScopeOfLocation(loc) : { organizationId: null, locationId: key.locationId };
}
