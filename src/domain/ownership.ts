import { forbidden } from '../errors.js';
import { scopeFilter, type Principal } from './principal.js';

/**
 * Who may do what with a subscription (docs/api.md, "Partner apps and ownership"):
 *
 * - the operator: everything;
 * - a partner key: only its app's subscriptions, within its scope; any other does not exist for it;
 * - a staff key: every subscription in its scope, whichever app owns it (the gym must know who
 *   receives its members' data). The gym's own (no app) it manages fully; an app's it may read, and
 *   pause, resume or disable (the gym can cut a partner off), but the rest (URL, event types,
 *   secret, test events, retries, replays, deletion) is the app's.
 *
 * An app may re-enable a subscription that it, or its delivery failures, disabled; one the gym or
 * the operator disabled stays disabled until they enable it again.
 */

/** What a subscription's rules need to know of it. */
export interface OwnedSubscription {
  id: string;
  appId: string | null;
  organizationId: number;
  locationId: number | null;
  /** who disabled it, when the gym, the operator or its app did (null: its delivery failures) */
  disabledBy: DisabledBy | null;
  status: 'active' | 'paused' | 'disabled';
}

export type DisabledBy = 'app' | 'gym' | 'operator';

/** `read`: it and its deliveries; `status`: pause, resume, disable, enable; `manage`: the rest. */
export type SubscriptionAction = 'read' | 'status' | 'manage';

/**
 * Which subscriptions exist for `p` (the store applies it; any other is answered 404, in lists
 * too): its scope's, and for a partner key only its app's.
 */
export function subscriptionFilter(p: Principal): SubscriptionFilter {
  const partner = p.kind === 'api_key' && p.role === 'partner';
  // a partner key without an app (which the store's constraints rule out) would see nothing
  return { ...scopeFilter(p), ownApp: partner ? { appId: p.appId } : undefined };
}

export interface SubscriptionFilter {
  organizationId: number | null;
  locationId: number | null;
  /** only this app's subscriptions (partner keys); undefined: whoever owns them */
  ownApp: { appId: string | null } | undefined;
}

/**
 * Throws 403 unless `p`, who can see `sub`, may take `action` on it. `newStatus` is the status a
 * `status` action sets.
 */
export function requireSubscriptionAction(
  p: Principal,
  sub: OwnedSubscription,
  action: SubscriptionAction,
  newStatus?: 'active' | 'paused' | 'disabled',
): void {
  if (p.kind === 'operator' || action === 'read') return;
  if (p.role === 'staff') {
    if (sub.appId === null || action === 'status') return;
    throw forbidden(
      `subscription ${sub.id} belongs to app ${sub.appId}: a staff key may read it and pause, resume or disable it; the rest is the app's`,
    );
  }
  // a partner app's session a staff key opened: what the staff key may do on an app's subscription
  if (p.limitedBy === 'staff' && action === 'manage')
    throw forbidden(
      `this portal session was opened by a staff key: it may read subscription ${sub.id} and pause, resume or disable it; the rest is the app's keys'`,
    );
  // a partner key, on its own app's subscription
  if (
    action === 'status' &&
    newStatus !== 'disabled' &&
    sub.status === 'disabled' &&
    (sub.disabledBy === 'gym' || sub.disabledBy === 'operator')
  ) {
    throw forbidden(
      `subscription ${sub.id} was disabled by the ${sub.disabledBy === 'gym' ? "gym's staff" : 'operator'}; only they can enable it again`,
    );
  }
}

/** How a principal is recorded as the one who disabled a subscription. */
export function disablerOf(p: Principal): DisabledBy {
  if (p.kind === 'operator' || p.limitedBy === 'operator') return 'operator';
  // a partner app's session opened by a staff key acts for the gym
  return p.role === 'staff' || p.limitedBy === 'staff' ? 'gym' : 'app';
}
