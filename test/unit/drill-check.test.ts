import { describe, expect, test } from 'vitest';
import {
  check,
  type Acked,
  type Arrival,
  type FinalContact,
  type StoredEvent,
} from '../../drills/lib/check.js';

// The drills' checker must catch what it is there to catch: each test feeds it one fault.

const ev = (id: string, contactId: number, eventType: string, data: object = {}): StoredEvent => ({
  eventId: id,
  eventType,
  eventTimestamp: '2026-11-22T00:00:00.000Z',
  locationId: 1,
  data: { contactId, ...data },
});

const EVENTS = [
  ev('a1', 1, 'contact.created'),
  ev('a2', 1, 'contact.status_changed', { newStatusId: 3 }),
  ev('b1', 2, 'contact.created'),
  ev('a3', 1, 'contact.deleted'),
];
const WINDOWS: Record<string, string> = { a1: 'w1', a2: 'w1', b1: 'w2', a3: 'w3' };

let n = 0;
const arrival = (eventId: string, over: Partial<Arrival> = {}): Arrival => ({
  i: n++,
  sub: 'main',
  hang: false,
  eventId,
  type: EVENTS.find((e) => e.eventId === eventId)?.eventType ?? '',
  contactId: 0,
  windowId: WINDOWS[eventId] ?? 'w?',
  attempt: 1,
  test: false,
  ts: '',
  at: 0,
  sig: true,
  ...over,
});

const CONTACTS: FinalContact[] = [
  { contactId: 1, isActive: false, contactGroupId: 3, subGroupId: null, customFields: { n: 5 } },
  { contactId: 2, isActive: true, contactGroupId: 1, subGroupId: null, customFields: { n: 2 } },
];
const noAcks = (): Acked => ({ created: new Set(), maxN: new Map() });

const run = (arrivals: Arrival[], over: { contacts?: FinalContact[]; acked?: Acked } = {}) =>
  check({
    events: EVENTS,
    arrivals,
    sub: 'main',
    contacts: over.contacts ?? CONTACTS,
    acked: over.acked ?? noAcks(),
  });

const inOrder = () => ['a1', 'b1', 'a2', 'a3'].map((id) => arrival(id));

describe('drill checker', () => {
  test('every event once, in order per contact, passes; duplicates are counted, not faults', () => {
    const r = run([
      ...inOrder(),
      arrival('a2'),
      arrival('a1', { sub: 'other' }),
      arrival('b1', { hang: true }),
    ]);
    expect(r.ok).toBe(true);
    expect(r).toMatchObject({ events: 4, delivered: 4, arrivals: 5, duplicates: 1 });
  });

  test('a stored event that never arrived is missing', () => {
    const r = run(inOrder().filter((a) => a.eventId !== 'b1'));
    expect(r.ok).toBe(false);
    expect(r.missing).toEqual(['b1']);
  });

  test("a contact's later event arriving first is an order violation, even if the earlier one comes again", () => {
    const r = run(['a1', 'a3', 'a2', 'b1', 'a3'].map((id) => arrival(id)));
    expect(r.ok).toBe(false);
    expect(r.orderViolations.map((v) => v.contactId)).toEqual([1]);
  });

  test('an arrival the store does not hold, a bad signature, and a window sent twice are faults', () => {
    const unknown = run([...inOrder(), arrival('zz')]);
    expect(unknown.unknown).toEqual(['zz']);
    const forged = run(inOrder().map((a) => (a.eventId === 'b1' ? { ...a, sig: false } : a)));
    expect(forged.badSignatures).toBe(1);
    const twice = run([
      ...inOrder(),
      arrival('a1', { eventId: 'a1', windowId: 'w1', type: 'contact.status_changed' }),
    ]);
    expect(twice.windowRepeats).toEqual(['w1/contact.status_changed']);
    expect([unknown.ok, forged.ok, twice.ok]).toEqual([false, false, false]);
  });

  test("the partner's view rebuilt from the arrivals must match the store's final state", () => {
    const r = run(inOrder(), {
      contacts: [CONTACTS[0]!, { ...CONTACTS[1]!, contactGroupId: 4 }],
    });
    expect(r.viewMismatches).toEqual([
      { contactId: 2, view: 'active group 1 sub null', store: 'active group 4 sub null' },
    ]);
  });

  test('a contact created other than exactly once is reported', () => {
    const r = run(inOrder(), {
      contacts: [
        ...CONTACTS,
        { contactId: 3, isActive: true, contactGroupId: 1, subGroupId: null, customFields: {} },
      ],
    });
    expect(r.createdCounts).toEqual([{ contactId: 3, count: 0 }]);
  });

  test('an acknowledged write the store does not show is lost', () => {
    const acked: Acked = { created: new Set([1, 9]), maxN: new Map([[1, 6]]) };
    const r = run(inOrder(), { acked });
    expect(r.lostWrites).toEqual([
      'contact 9: acknowledged creation missing',
      'contact 1: acknowledged n=6, store has 5',
    ]);
  });
});
