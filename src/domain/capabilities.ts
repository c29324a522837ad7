import type { Principal } from './principal.js';

/**
 * What a principal may do, by area, as `GET /api/me` tells it (the portal shows the pages these
 * allow). A summary of the rules the routes enforce, not a second set of rules: each route still
 * checks its own.
 */
export interface Capabilities {
  /** organizations, locations, apps and API keys; the platform's health */
  operate: boolean;
  /** create, change and import contacts; sub-groups */
  writeContacts: boolean;
  /** read contacts and their history (in scope) */
  readContacts: boolean;
  /** a contact's timeline: history, windows, events and deliveries */
  readContactTimelines: boolean;
  /** automation rules: read, create, change, enable, disable */
  manageAutomations: boolean;
  /** the audit log (in scope) */
  readAuditLog: boolean;
  /** the events of its scope (pull API) and the event catalog */
  readEvents: boolean;
  /** subscriptions: read, create; change, test, retry and replay those it owns */
  manageSubscriptions: boolean;
  /** pause, resume and disable a partner app's subscription in scope (the gym's cut-off) */
  pausePartnerSubscriptions: boolean;
  /** mint portal links (a portal session cannot) */
  mintPortalLinks: boolean;
}

export function capabilitiesOf(p: Principal): Capabilities {
  const operator = p.kind === 'operator';
  const staff = operator || p.role === 'staff';
  return {
    operate: operator,
    writeContacts: staff,
    readContacts: true,
    readContactTimelines: staff,
    manageAutomations: staff,
    readAuditLog: staff,
    readEvents: true,
    manageSubscriptions: true,
    pausePartnerSubscriptions: staff,
    mintPortalLinks: p.session === undefined,
  };
}
