/**
 * The independent checker: compares what the receiver got with what the store holds, using only
 * the receiver's log and what the public API answers. Pure, so its own tests can feed it faults.
 */
import { groupBy } from '../../src/collections.js';

/** One request as the drill receiver recorded it (one line of arrivals.jsonl). */
export interface Arrival {
  /** arrival order at the receiver */
  i: number;
  /** the subscription's name (the last part of its URL path) */
  sub: string;
  /** sent to the endpoint that never answers */
  hang: boolean;
  eventId: string;
  type: string;
  contactId: number;
  windowId: string;
  attempt: number;
  test: boolean;
  /** the envelope's eventTimestamp */
  ts: string;
  /** ms since epoch at arrival */
  at: number;
  /** both signatures verified */
  sig: boolean;
}

/** An envelope as `GET /api/events` answers it. */
export interface StoredEvent {
  eventId: string;
  eventType: string;
  eventTimestamp: string;
  locationId: number;
  data: {
    contactId: number;
    newStatusId?: number;
    newSubGroupId?: number | null;
  };
}

/** A contact's final state as `GET /api/locations/{id}/contacts` answers it. */
export interface FinalContact {
  contactId: number;
  isActive: boolean;
  contactGroupId: number;
  subGroupId: number | null;
  customFields: Record<string, unknown>;
}

/** What the load generator knows for sure: writes the API acknowledged with a 2xx. */
export interface Acked {
  /** contacts whose creation was acknowledged */
  created: Set<number>;
  /** per contact, the highest `customFields.n` an acknowledged patch set (n only grows) */
  maxN: Map<number, number>;
}

export interface CheckResult {
  events: number;
  /** arrivals at the healthy endpoint for real events (test events and the hanging endpoint excluded) */
  arrivals: number;
  delivered: number;
  duplicates: number;
  missing: string[];
  /** arrivals whose eventId the store does not have */
  unknown: string[];
  badSignatures: number;
  /** contacts whose first arrivals are not in the store's order */
  orderViolations: { contactId: number; expected: string[]; got: string[] }[];
  /** (window, type) pairs seen with more than one eventId: a window emitted twice */
  windowRepeats: string[];
  /** contacts with other than exactly one contact.created in the store */
  createdCounts: { contactId: number; count: number }[];
  /** contacts whose state rebuilt from the delivered events differs from the store's */
  viewMismatches: { contactId: number; view: string; store: string }[];
  /** acknowledged writes the store does not show */
  lostWrites: string[];
  ok: boolean;
}

const LIMIT = 3;

/**
 * Every stored event delivered at least once; nothing arrived that the store does not hold;
 * per contact, first arrivals in store order; each window's events once; each contact created
 * once; the partner's view rebuilt from first arrivals equals the store's final state; no
 * acknowledged write missing. Duplicates are counted (at-least-once allows them).
 */
export function check(input: {
  events: StoredEvent[];
  arrivals: Arrival[];
  sub: string;
  contacts: FinalContact[];
  acked: Acked;
  defaultGroupId?: number;
}): CheckResult {
  const { events, sub, contacts, acked } = input;
  const defaultGroup = input.defaultGroupId ?? 1;
  const arrivals = input.arrivals.filter((a) => a.sub === sub && !a.hang && !a.test);
  const byId = new Map(events.map((e) => [e.eventId, e]));

  const first = new Map<string, Arrival>();
  const unknown: string[] = [];
  let badSignatures = 0;
  const windowIds = new Map<string, string>();
  const windowRepeats = new Set<string>();
  for (const a of [...arrivals].sort((x, y) => x.i - y.i)) {
    if (!a.sig) badSignatures++;
    if (!byId.has(a.eventId)) {
      unknown.push(a.eventId);
      continue;
    }
    if (!first.has(a.eventId)) first.set(a.eventId, a);
    const key = `${a.windowId}/${a.type}`;
    const seen = windowIds.get(key);
    if (seen === undefined) windowIds.set(key, a.eventId);
    else if (seen !== a.eventId) windowRepeats.add(key);
  }
  const missing = events.filter((e) => !first.has(e.eventId)).map((e) => e.eventId);

  // per contact: the store's order (the API lists oldest first) against the order of first arrivals
  const storeOrder = groupBy(events, (e) => e.data.contactId);
  const arrivalOrder = groupBy(
    [...first.values()].sort((x, y) => x.i - y.i),
    (a) => byId.get(a.eventId)?.data.contactId ?? 0,
  );
  const orderViolations: CheckResult['orderViolations'] = [];
  for (const [contactId, evs] of storeOrder) {
    const expected = evs.map((e) => e.eventId).filter((id) => first.has(id));
    const got = (arrivalOrder.get(contactId) ?? []).map((a) => a.eventId);
    if (expected.join() !== got.join()) orderViolations.push({ contactId, expected, got });
  }

  const createdCounts: CheckResult['createdCounts'] = [];
  for (const c of contacts) {
    const count = (storeOrder.get(c.contactId) ?? []).filter((e) => e.eventType === 'contact.created').length;
    if (count !== 1) createdCounts.push({ contactId: c.contactId, count });
  }

  // The partner's view, rebuilt from the first arrivals in arrival order. After a contact.deleted
  // its group and sub-group are unknown to the partner: changes made while inactive, or in the
  // window that deleted it, emit nothing (SPEC §3), and a reactivation's contact.updated is thin, so
  // a partner re-reads the contact. They are compared only while the events have told them.
  const viewMismatches: CheckResult['viewMismatches'] = [];
  for (const c of contacts) {
    let active = false;
    let group: number | undefined = defaultGroup;
    let subGroup: number | null | undefined = null;
    for (const a of arrivalOrder.get(c.contactId) ?? []) {
      const e = byId.get(a.eventId);
      if (e === undefined) continue;
      if (e.eventType === 'contact.created') [active, group, subGroup] = [true, defaultGroup, null];
      else if (e.eventType === 'contact.deleted') [active, group, subGroup] = [false, undefined, undefined];
      else if (e.eventType === 'contact.updated') active = true;
      else if (e.eventType === 'contact.status_changed') group = e.data.newStatusId;
      else if (e.eventType === 'contact.sub_group_changed') subGroup = e.data.newSubGroupId ?? null;
    }
    const differs =
      active !== c.isActive ||
      (active && group !== undefined && group !== c.contactGroupId) ||
      (active && subGroup !== undefined && subGroup !== c.subGroupId);
    if (differs) {
      const view = active
        ? `active group ${group ?? '?'} sub ${subGroup === undefined ? '?' : String(subGroup)}`
        : 'inactive';
      const store = c.isActive ? `active group ${c.contactGroupId} sub ${c.subGroupId}` : 'inactive';
      viewMismatches.push({ contactId: c.contactId, view, store });
    }
  }

  const lostWrites: string[] = [];
  const finalById = new Map(contacts.map((c) => [c.contactId, c]));
  for (const id of acked.created) {
    if (!finalById.has(id)) lostWrites.push(`contact ${id}: acknowledged creation missing`);
  }
  for (const [id, n] of acked.maxN) {
    const stored = finalById.get(id)?.customFields.n;
    if (typeof stored !== 'number' || stored < n) {
      lostWrites.push(`contact ${id}: acknowledged n=${n}, store has ${String(stored)}`);
    }
  }

  const result: CheckResult = {
    events: events.length,
    arrivals: arrivals.length,
    delivered: first.size,
    duplicates: arrivals.length - first.size - unknown.length,
    missing,
    unknown,
    badSignatures,
    orderViolations,
    windowRepeats: [...windowRepeats],
    createdCounts,
    viewMismatches,
    lostWrites,
    ok: false,
  };
  result.ok =
    missing.length === 0 &&
    unknown.length === 0 &&
    badSignatures === 0 &&
    orderViolations.length === 0 &&
    windowRepeats.size === 0 &&
    createdCounts.length === 0 &&
    viewMismatches.length === 0 &&
    lostWrites.length === 0;
  return result;
}

/** The check's findings as lines for the drill's summary, a few examples of each fault. */
export function describe(r: CheckResult): string[] {
  const lines = [
    `events in store ${r.events}, delivered ${r.delivered}, arrivals ${r.arrivals}, duplicates ${r.duplicates}`,
  ];
  const add = (label: string, items: unknown[]) => {
    if (items.length) lines.push(`${label}: ${items.length} (e.g. ${JSON.stringify(items.slice(0, LIMIT))})`);
  };
  add('MISSING (stored, never delivered)', r.missing);
  add('UNKNOWN (delivered, not in store)', r.unknown);
  if (r.badSignatures) lines.push(`BAD SIGNATURES: ${r.badSignatures}`);
  add(
    'ORDER VIOLATIONS (contacts)',
    r.orderViolations.map((v) => v.contactId),
  );
  add('WINDOW EMITTED TWICE', r.windowRepeats);
  add('CONTACTS NOT CREATED EXACTLY ONCE', r.createdCounts);
  add('PARTNER VIEW DIFFERS FROM STORE', r.viewMismatches);
  add('ACKNOWLEDGED WRITES LOST', r.lostWrites);
  return lines;
}
