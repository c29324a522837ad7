import { isDeepStrictEqual } from 'node:util';

/*
 * The reference model of the coalescing property test (test/integration/coalescing.property.test.ts):
 * SPEC §3's table read independently of the service's derivation, and the operations the test makes.
 */

/** Which of the contact's location's two sub-groups. */
export type Slot = 0 | 1;

export interface PatchSpec {
  contactGroupId?: number;
  subGroup?: Slot | null;
  firstName?: string | null;
  tags?: string[];
  canSms?: boolean;
  customFields?: Record<string, string | number | null>;
}

export type Op =
  | {
      kind: 'create';
      c: number;
      contactGroupId?: number;
      subGroup?: Slot;
      firstName?: string;
      tags?: string[];
    }
  | { kind: 'patch'; c: number; set: PatchSpec }
  | { kind: 'delete'; c: number }
  | { kind: 'reactivate'; c: number }
  | { kind: 'transfer'; c: number }
  | { kind: 'pause'; long: boolean };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a contact as the API returned it
export type ContactBody = Record<string, any>;

/** [eventType, locationId, data] */
export type Ev = [string, number, Record<string, unknown>];

export interface ModelContact {
  id: number;
  /** the contact before its open window; null: it did not exist */
  s0: ContactBody | null;
  /** the latest state, from the API's answer */
  s1: ContactBody;
  /** expected events, one list per window that emits */
  windows: Ev[][];
}

// --- the reference model: SPEC §3, written from the spec ---------------------------------------

/** Both locations of the tenant are created without a default group: Leads. */
export const DEFAULT_GROUP = 1;

/** Not change-tracked: identity and bookkeeping. organizationId follows locationId. */
export const UNTRACKED = new Set(['contactId', 'createdAt', 'updatedAt', 'organizationId']);
/** Set on every creation, with their own companion events: not "optional fields". */
export const NOT_OPTIONAL = new Set(['contactGroupId', 'subGroupId', 'isActive', 'locationId']);

export const sortedTags = (v: unknown): unknown => (Array.isArray(v) ? [...(v as string[])].sort() : v);

export function sameField(field: string, a: unknown, b: unknown): boolean {
  if (field === 'tags') return isDeepStrictEqual(sortedTags(a ?? []), sortedTags(b ?? []));
  if (field === 'customFields') return isDeepStrictEqual(a ?? {}, b ?? {});
  return isDeepStrictEqual(a ?? null, b ?? null);
}

export function trackedDiffers(s0: ContactBody, s1: ContactBody): boolean {
  const fields = new Set([...Object.keys(s0), ...Object.keys(s1)].filter((f) => !UNTRACKED.has(f)));
  return [...fields].some((f) => !sameField(f, s0[f], s1[f]));
}

export const isBlank = (v: unknown): boolean =>
  v === null ||
  v === undefined ||
  v === false ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);

export const anyOptionalSet = (s1: ContactBody): boolean =>
  Object.keys(s1).some((f) => !UNTRACKED.has(f) && !NOT_OPTIONAL.has(f) && !isBlank(s1[f]));

/**
 * The events §3 gives for one window, from the state before it (null: no contact) to the state after
 * it; `seenAt` is the location of the contact's last event so far (where partners last saw it).
 */
export function expectedEvents(s0: ContactBody | null, s1: ContactBody, seenAt: number | undefined): Ev[] {
  const contactId = s1.contactId as number;
  const created = (loc: number): Ev => ['contact.created', loc, { contactId, operation: 'create' }];
  const updated = (loc: number): Ev => ['contact.updated', loc, { contactId, operation: 'update' }];
  const deleted = (loc: number): Ev => ['contact.deleted', loc, { contactId, operation: 'delete' }];
  const status = (loc: number, from: unknown, to: unknown): Ev => [
    'contact.status_changed',
    loc,
    { contactId, previousStatusId: from, newStatusId: to },
  ];
  const subGroup = (loc: number, from: unknown, to: unknown): Ev => [
    'contact.sub_group_changed',
    loc,
    { contactId, previousSubGroupId: from, newSubGroupId: to },
  ];
  /** status_changed and sub_group_changed for the net group / sub-group change */
  const typed = (loc: number, fromGroup: unknown, fromSub: unknown): Ev[] => [
    ...(fromGroup !== s1.contactGroupId ? [status(loc, fromGroup, s1.contactGroupId)] : []),
    ...((fromSub ?? null) !== (s1.subGroupId ?? null) ? [subGroup(loc, fromSub ?? null, s1.subGroupId)] : []),
  ];
  const loc1 = s1.locationId as number;

  if (s0 === null) {
    // no contact → inactive: created and deleted in one window
    if (!s1.isActive) return [created(loc1), deleted(loc1)];
    // no contact → active: created, then companions against the location default and a blank contact
    return [
      created(loc1),
      ...typed(loc1, DEFAULT_GROUP, null),
      ...(anyOptionalSet(s1) ? [updated(loc1)] : []),
    ];
  }
  const loc0 = s0.locationId as number;
  if (s0.isActive && !s1.isActive) return [deleted(loc0)];
  if (!s0.isActive && !s1.isActive) return [];
  if (!s0.isActive && s1.isActive) {
    // moved while inactive (in this window or an earlier one) and reactivated: it reappears at its
    // new location
    if ((seenAt ?? loc0) !== loc1) return [created(loc1)];
    return [...typed(loc1, s0.contactGroupId, s0.subGroupId), updated(loc1)];
  }
  // active → active
  if (loc0 !== loc1) return [deleted(loc0), created(loc1)];
  if (!trackedDiffers(s0, s1)) return [];
  return [...typed(loc1, s0.contactGroupId, s0.subGroupId), updated(loc1)];
}
