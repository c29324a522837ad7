import { forbidden } from '../errors.js';

export type Role = 'staff' | 'partner';

/** A portal session a principal called through (docs/api.md, "Portal links and sessions"). */
export interface PortalSession {
  id: string;
  expiresAt: string;
}

/**
 * Who is calling: the operator, or an API key with a role and one scope; either directly or through
 * a portal `session` minted by that key, which stands for it exactly. A session opened by a link a
 * staff key or the operator made for a partner app is the app's view, no wider than its minter:
 * role `partner` with that `appId`, `limitedBy` the minter (see `appSessionOf`).
 */
export type Principal =
  | { kind: 'operator'; session?: PortalSession }
  | {
      kind: 'api_key';
      session?: PortalSession;
      /** the key; null only for a session the operator opened for a partner app */
      keyId: number | null;
      role: Role;
      organizationId: number | null;
      locationId: number | null;
      /** the partner app a partner key belongs to; null for a staff key */
      appId: string | null;
      /** a partner app's session made by a staff key or the operator, narrowed to what both allow */
      limitedBy?: 'staff' | 'operator';
    };

/**
 * The partner app's view that a session limited to `appId` gives, when `minter` made its link: the
 * app's (a partner's role, its subscriptions only) within the minter's scope (for the operator, the
 * scope its link named). A staff key's view is narrowed further where it routes it (`limitedBy`):
 * the app's subscriptions are read, paused and resumed, not changed, as the staff key alone may.
 */
export function appSessionOf(
  minter: Principal,
  appId: string,
  operatorScope: { organizationId: number | null; locationId: number | null },
): Principal {
  if (minter.kind === 'operator')
    return { kind: 'api_key', keyId: null, role: 'partner', appId, ...operatorScope, limitedBy: 'operator' };
  // a partner key's link for its own app stands for the key itself
  if (minter.role === 'partner') return minter;
  return { ...minter, role: 'partner', appId, limitedBy: 'staff' };
}

export interface LocationRef {
  id: number;
  /** 0 when the location has no organization */
  organizationId: number;
}

/** A key scoped to an organization sees all its locations; one scoped to a location, that one only. */
export function canSeeLocation(p: Principal, loc: LocationRef): boolean {
  if (p.kind === 'operator') return true;
  if (p.locationId !== null) return p.locationId === loc.id;
  return p.organizationId !== null && p.organizationId === loc.organizationId;
}

export function canSeeOrganization(p: Principal, organizationId: number): boolean {
  if (p.kind === 'operator') return true;
  return p.locationId === null && p.organizationId === organizationId;
}

/**
 * A principal's scope as a filter: nothing (the operator sees all), one organization (an
 * organization key: its locations and everything at them), or one location.
 */
export function scopeFilter(p: Principal): { organizationId: number | null; locationId: number | null } {
  if (p.kind === 'operator') return { organizationId: null, locationId: null };
  return p.locationId !== null
    ? { organizationId: null, locationId: p.locationId }
    : { organizationId: p.organizationId, locationId: null };
}

/** Staff may do everything in scope; partners read and manage subscriptions. The operator may do all. */
export function requireRole(p: Principal, role: Role): void {
  if (p.kind === 'operator' || p.role === role) return;
  throw forbidden(`this action needs a ${role} key; this key's role is ${p.role}`);
}

export function requireOperator(p: Principal): void {
  if (p.kind !== 'operator') throw forbidden('this action needs the operator key');
}

/** How a principal is recorded as the actor of a change. */
export function actorOf(p: Principal): { actorType: 'operator' | 'api_key'; actorId: number | null } {
  return p.kind === 'operator' || p.keyId === null
    ? { actorType: 'operator', actorId: null }
    : { actorType: 'api_key', actorId: p.keyId };
}
