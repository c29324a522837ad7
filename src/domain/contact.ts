import type { ContactGroupId } from './contact-groups.js';

/** Where a change came from (SPEC §1); recorded with every history row, it never changes which events fire. */
export const CHANGE_SOURCES = ['staff', 'automation', 'billing', 'import', 'api'] as const;
export type ChangeSource = (typeof CHANGE_SOURCES)[number];

/** A value a custom field may hold. */
export type CustomValue = string | number | boolean | null;

/** The fields a client may set on a contact. */
export interface ContactFields {
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  contactGroupId: ContactGroupId;
  subGroupId: number | null;
  tags: string[];
  canSms: boolean;
  canEmail: boolean;
  canCall: boolean;
  lastContactedAt: string | null;
  lastSmsInAt: string | null;
  lastCallAt: string | null;
  assignedStaffId: number | null;
  membershipType: string | null;
  trialEndsAt: string | null;
  externalId: string | null;
  customFields: Record<string, CustomValue>;
}

export interface Contact extends ContactFields {
  contactId: number;
  locationId: number;
  /** 0 when the location has no organization. */
  organizationId: number;
  isActive: boolean;
  createdAt: string;
  updatedAt: string;
}

export type FieldKind = 'text' | 'boolean' | 'timestamp' | 'integer' | 'tags' | 'json';

/**
 * Every stored contact field: its API name, its column, its kind. The SQL column lists, the row
 * mapping and the change tracking are all derived from this one table.
 */
export const CONTACT_COLUMNS = [
  { name: 'firstName', column: 'first_name', kind: 'text' },
  { name: 'lastName', column: 'last_name', kind: 'text' },
  { name: 'email', column: 'email', kind: 'text' },
  { name: 'phone', column: 'phone', kind: 'text' },
  { name: 'contactGroupId', column: 'contact_group_id', kind: 'integer' },
  { name: 'subGroupId', column: 'sub_group_id', kind: 'integer' },
  { name: 'tags', column: 'tags', kind: 'tags' },
  { name: 'canSms', column: 'can_sms', kind: 'boolean' },
  { name: 'canEmail', column: 'can_email', kind: 'boolean' },
  { name: 'canCall', column: 'can_call', kind: 'boolean' },
  { name: 'lastContactedAt', column: 'last_contacted_at', kind: 'timestamp' },
  { name: 'lastSmsInAt', column: 'last_sms_in_at', kind: 'timestamp' },
  { name: 'lastCallAt', column: 'last_call_at', kind: 'timestamp' },
  { name: 'assignedStaffId', column: 'assigned_staff_id', kind: 'integer' },
  { name: 'membershipType', column: 'membership_type', kind: 'text' },
  { name: 'trialEndsAt', column: 'trial_ends_at', kind: 'timestamp' },
  { name: 'externalId', column: 'external_id', kind: 'text' },
  { name: 'customFields', column: 'custom_fields', kind: 'json' },
] as const satisfies readonly { name: keyof ContactFields; column: string; kind: FieldKind }[];

export type ContactFieldName = keyof ContactFields;
export type ContactColumn = (typeof CONTACT_COLUMNS)[number];

/** What a field holds before anyone sets it. */
export const BLANK_FIELDS: Omit<ContactFields, 'contactGroupId'> = {
  firstName: null,
  lastName: null,
  email: null,
  phone: null,
  subGroupId: null,
  tags: [],
  canSms: false,
  canEmail: false,
  canCall: false,
  lastContactedAt: null,
  lastSmsInAt: null,
  lastCallAt: null,
  assignedStaffId: null,
  membershipType: null,
  trialEndsAt: null,
  externalId: null,
  customFields: {},
};

/** One step of a contact's history: each changed field with its value before and after. */
export type Changes = Record<string, { from: unknown; to: unknown }>;

type Tracked = Map<string, unknown>;

/** How a custom field's change is named among a contact's changes: `customFields.<name>`. */
const CUSTOM_FIELD_PREFIX = 'customFields.';

/**
 * The change-tracked view of a contact: every field, plus where it lives and whether it is active.
 * Custom fields are tracked one by one as `customFields.<name>`.
 */
export function trackedValues(c: Pick<Contact, 'locationId' | 'isActive'> & ContactFields): Tracked {
  const out: Tracked = new Map();
  out.set('locationId', c.locationId);
  out.set('isActive', c.isActive);
  for (const { name } of CONTACT_COLUMNS) {
    if (name === 'customFields') continue;
    out.set(name, c[name]);
  }
  for (const key of Object.keys(c.customFields).sort())
    out.set(`${CUSTOM_FIELD_PREFIX}${key}`, c.customFields[key]);
  return out;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

/**
 * The fields that differ between two states of a contact. With no `before` (a creation), every
 * field that differs from a blank contact counts, and so do locationId, isActive and contactGroupId.
 */
export function diffContact(before: Contact | null, after: Contact): Changes {
  const changes: Changes = {};
  const a = trackedValues(after);
  if (before === null) {
    const blank = trackedValues({ ...after, ...BLANK_FIELDS });
    for (const [field, to] of a) {
      const always = field === 'locationId' || field === 'isActive' || field === 'contactGroupId';
      if (always || !sameValue(blank.get(field) ?? null, to)) changes[field] = { from: null, to };
    }
    return changes;
  }
  const b = trackedValues(before);
  for (const field of new Set([...b.keys(), ...a.keys()])) {
    const from = b.get(field) ?? null;
    const to = a.get(field) ?? null;
    if (!sameValue(from, to)) changes[field] = { from, to };
  }
  return changes;
}

/** Tags are a set: trimmed, deduplicated, stored sorted so that equal sets compare equal. */
export function normalizeTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()))].filter((t) => t !== '').sort();
}

/** Timestamps are kept at millisecond precision as ISO 8601 UTC strings. */
export function normalizeTimestamp(v: string | null): string | null {
  return v === null ? null : new Date(v).toISOString();
}

/** A partial update as the API accepts it. */
export type ContactPatch = Partial<ContactFields> & { isActive?: boolean };

const TIMESTAMP_FIELDS = CONTACT_COLUMNS.filter((c) => c.kind === 'timestamp').map((c) => c.name);

/** Normalizes what a client sent: tags as a sorted set, timestamps to milliseconds UTC. */
export function normalizeInput<T extends Partial<ContactFields>>(input: T): T {
  const out: T = { ...input };
  if (out.tags !== undefined) out.tags = normalizeTags(out.tags);
  for (const f of TIMESTAMP_FIELDS) {
    const v = out[f];
    if (v !== undefined) out[f] = normalizeTimestamp(v);
  }
  if (out.customFields !== undefined) {
    // on creation and in a merge alike, null means "no value": the key is not kept
    out.customFields = Object.fromEntries(Object.entries(out.customFields).filter(([, v]) => v !== null));
  }
  return out;
}

/**
 * The contact after a partial update. Custom fields merge: a key set to null is removed, keys not
 * named stay as they were.
 */
export function applyPatch<C extends Contact>(before: C, patch: ContactPatch): C {
  const normalized = normalizeInput(patch);
  const after: C = { ...before, ...normalized };
  if (patch.customFields !== undefined) {
    const merged: Record<string, CustomValue> = { ...before.customFields };
    for (const [k, v] of Object.entries(patch.customFields)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    after.customFields = merged;
  }
  return after;
}

/** Whether changes (`diffContact`'s) change a contact column; custom fields are diffed one by one. */
export function changesColumn(changes: Changes, name: ContactColumn['name']): boolean {
  if (name !== 'customFields') return name in changes;
  return Object.keys(changes).some((k) => k.startsWith(CUSTOM_FIELD_PREFIX));
}
