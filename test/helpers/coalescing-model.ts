import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { Reply, Tenant, TestApi } from './api.js';

/*
 * The reference model of SPEC §3 that the coalescing property tests check the service against
 * (test/integration/coalescing.property.test.ts, one request at a time;
 * test/integration/concurrent-writes.property.test.ts, through concurrent requests), and the
 * operations they generate. (The service's derivation is deliberately not used here.)
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
const DEFAULT_GROUP = 1;

/** Not change-tracked: identity and bookkeeping. organizationId follows locationId. */
const UNTRACKED = new Set(['contactId', 'createdAt', 'updatedAt', 'organizationId']);
/** Set on every creation, with their own companion events: not "optional fields". */
const NOT_OPTIONAL = new Set(['contactGroupId', 'subGroupId', 'isActive', 'locationId']);

const sortedTags = (v: unknown): unknown => (Array.isArray(v) ? [...(v as string[])].sort() : v);

function sameField(field: string, a: unknown, b: unknown): boolean {
  if (field === 'tags') return isDeepStrictEqual(sortedTags(a ?? []), sortedTags(b ?? []));
  if (field === 'customFields') return isDeepStrictEqual(a ?? {}, b ?? {});
  return isDeepStrictEqual(a ?? null, b ?? null);
}

function trackedDiffers(s0: ContactBody, s1: ContactBody): boolean {
  const fields = new Set([...Object.keys(s0), ...Object.keys(s1)].filter((f) => !UNTRACKED.has(f)));
  return [...fields].some((f) => !sameField(f, s0[f], s1[f]));
}

const isBlank = (v: unknown): boolean =>
  v === null ||
  v === undefined ||
  v === false ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);

const anyOptionalSet = (s1: ContactBody): boolean =>
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

// --- generated operations ------------------------------------------------------------------------

/** mostly the first contact, so that one contact sees long enough histories (deleted, paused, reactivated…) */
const contactIndex = fc.oneof(
  { arbitrary: fc.constant(0), weight: 6 },
  { arbitrary: fc.constant(1), weight: 2 },
  { arbitrary: fc.constant(2), weight: 1 },
);
const group = fc.integer({ min: 1, max: 7 });
const slot = fc.constantFrom<Slot>(0, 1);
const tags = fc.shuffledSubarray(['vip', 'yoga', 'hiit']);

const createOp: fc.Arbitrary<Op> = fc.record(
  {
    kind: fc.constant('create' as const),
    c: contactIndex,
    contactGroupId: group,
    subGroup: slot,
    firstName: fc.constantFrom('Ada', 'Bo'),
    tags,
  },
  { requiredKeys: ['kind', 'c'] },
);

const patchOp: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('patch' as const),
  c: contactIndex,
  set: fc.record(
    {
      contactGroupId: group,
      subGroup: fc.constantFrom<Slot | null>(0, 1, null),
      firstName: fc.constantFrom<string | null>('Ada', 'Bo', null),
      tags,
      canSms: fc.boolean(),
      customFields: fc.record(
        { belt: fc.constantFrom('blue', 'black', null), visits: fc.constantFrom(1, 2, null) },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  ),
});

const simpleOp = (kind: 'delete' | 'reactivate' | 'transfer'): fc.Arbitrary<Op> =>
  fc.record({ kind: fc.constant(kind), c: contactIndex });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: createOp, weight: 1 },
  { arbitrary: patchOp, weight: 4 },
  { arbitrary: simpleOp('delete'), weight: 3 },
  { arbitrary: simpleOp('reactivate'), weight: 3 },
  { arbitrary: simpleOp('transfer'), weight: 3 },
  { arbitrary: fc.constant<Op>({ kind: 'pause', long: true }), weight: 3 },
  { arbitrary: fc.constant<Op>({ kind: 'pause', long: false }), weight: 1 },
);

export const opsArb = fc.array(opArb, { minLength: 1, maxLength: 12, size: 'max' });

export const LONG: Op = { kind: 'pause', long: true };
export const SHORT: Op = { kind: 'pause', long: false };

/** Rows of the table that random sequences reach only now and then; run first, every time. */
export const EXAMPLES: [Op[]][] = [
  // moved while inactive and reactivated: only contact.created, at the new location
  [
    [
      { kind: 'create', c: 0, contactGroupId: 3, subGroup: 0 },
      LONG,
      { kind: 'delete', c: 0 },
      LONG,
      { kind: 'transfer', c: 0 },
      { kind: 'patch', c: 0, set: { contactGroupId: 5 } },
      { kind: 'reactivate', c: 0 },
    ],
  ],
  // moved while inactive, a window closing in between, then reactivated: created at the new location
  [
    [
      { kind: 'create', c: 0, contactGroupId: 3 },
      LONG,
      { kind: 'delete', c: 0 },
      LONG,
      { kind: 'transfer', c: 0 },
      LONG,
      { kind: 'reactivate', c: 0 },
    ],
  ],
  // reactivated with a net group and sub-group change; a second contact deleted in the same pause
  [
    [
      { kind: 'create', c: 0 },
      { kind: 'create', c: 1, firstName: 'Bo' },
      LONG,
      { kind: 'delete', c: 0 },
      LONG,
      { kind: 'reactivate', c: 0 },
      SHORT,
      { kind: 'patch', c: 0, set: { contactGroupId: 4, subGroup: 1 } },
      { kind: 'delete', c: 1 },
    ],
  ],
  // transferred away and back while active: no transfer, only the cleared sub-group
  [
    [
      { kind: 'create', c: 0, subGroup: 0, tags: ['yoga'] },
      LONG,
      { kind: 'transfer', c: 0 },
      { kind: 'transfer', c: 0 },
    ],
  ],
  // moved away and back while inactive, then reactivated: a plain reactivation
  [
    [
      { kind: 'create', c: 0, subGroup: 1 },
      { kind: 'delete', c: 0 },
      LONG,
      { kind: 'transfer', c: 0 },
      { kind: 'transfer', c: 0 },
      { kind: 'reactivate', c: 0 },
    ],
  ],
  // changes that cancel out, and a custom field and tags that come back in another order
  [
    [
      { kind: 'create', c: 0, firstName: 'Ada', tags: ['vip', 'hiit'] },
      LONG,
      { kind: 'patch', c: 0, set: { contactGroupId: 2, firstName: 'Bo', customFields: { belt: 'blue' } } },
      { kind: 'patch', c: 0, set: { tags: ['hiit'] } },
      { kind: 'patch', c: 0, set: { contactGroupId: 1, firstName: 'Ada', customFields: { belt: null } } },
      { kind: 'patch', c: 0, set: { tags: ['vip', 'hiit'] } },
    ],
  ],
];

/** A write the generated sequence makes must be accepted; anything else fails the run with the body. */
export function accepted(res: Reply, status: number, what: string): ContactBody {
  if (res.status !== status) {
    throw new Error(`${what} → ${res.status} (expected ${status}): ${JSON.stringify(res.body)}`);
  }
  return res.body as ContactBody;
}

/** What the property tests' runs share: the tenant, its sub-groups and the events cursor. */
export interface World {
  api: TestApi;
  tenant: Tenant;
  /** per location: the ids of its two sub-groups */
  subGroups: Map<number, [number, number]>;
  /** the events cursor after the previous run */
  cursor: string;
}

/** Creates two sub-groups at each of the tenant's locations (the model's slots 0 and 1). */
export async function newWorld(api: TestApi, tenant: Tenant): Promise<World> {
  const subGroups = new Map<number, [number, number]>();
  for (const loc of [tenant.locA, tenant.locB]) {
    const one = await api.create(`/api/locations/${loc}/sub-groups`, { name: 'One' });
    const two = await api.create(`/api/locations/${loc}/sub-groups`, { name: 'Two' });
    subGroups.set(loc, [one.subGroupId, two.subGroupId]);
  }
  return { api, tenant, subGroups, cursor: '0' };
}
