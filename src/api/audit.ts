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
 * The portal session an action went through, as its entry tells it: the session, and for a
 * partner app's session a staff key or the operator made, the app and who made it, so that such an
 * entry is not read as the maker's own direct action (the actor stays the maker).
 */
export function portalSessionOf(
  p: Principal,
): { id: string; appId?: string | null; limitedBy?: 'staff' | 'operator' } | undefined {
  if (!p.session) return undefined;
  if (p.kind === 'api_key' && p.limitedBy !== undefined)
    return { id: p.session.id, appId: p.appId, limitedBy: p.limitedBy };
  return { id: p.session.id };
}

/**
 * Records a security-relevant action of a request in the audit log. Pass the transaction that does
 * the action: the entry commits with it, and an action that fails leaves none. The actor is the
 * request's principal, or `principal` when the request has none of its own (a session being opened).
 */
export async function recordAudit(
  tx: Queryable,
  req: FastifyRequest,
  a: AuditedAction,
  principal: Principal = req.principal,
): Promise<void> {
  const portalSession = portalSessionOf(principal);
  const details = portalSession ? { ...a.details, portalSession } : a.details;
  await insertAudit(tx, {
    actor: auditActor(principal),
    clientAddress: req.ip,
    action: a.action,
    targetType: a.targetType,
    targetId: a.targetId,
    organizationId: a.organizationId ?? null,
    locationId: a.locationId ?? null,
    ...(details ? { details } : {}),
  });
}

/** The audit scope of what a principal does to itself (its sessions): its scope; none for the operator. */
export async function auditScopeOfPrincipal(
  q: Queryable,
  p: Principal,
): Promise<{ organizationId?: number | null; locationId?: number | null }> {
  return p.kind === 'api_key' ? auditScopeOfKey(q, p) : {};
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
