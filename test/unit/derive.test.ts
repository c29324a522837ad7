import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BLANK_FIELDS, type Contact, type CustomValue } from '../../src/domain/contact.js';
import type { ContactGroupId } from '../../src/domain/contact-groups.js';
import { eventErrors, validateEvent } from '../../src/domain/events.js';
import { newEventId } from '../../src/domain/ids.js';
import { deriveEvents, toEnvelope, type DerivedEvent, type WindowInput } from '../../src/events/derive.js';

const ORG = 5678;
const HOME = 1234;
const AWAY = 1235;
const contactId = 9876;

function contact(over: Partial<Contact> = {}): Contact {
  return {
    ...BLANK_FIELDS,
    contactId,
    locationId: HOME,
    organizationId: ORG,
    isActive: true,
    contactGroupId: 1,
    createdAt: '2026-06-10T23:44:00.000Z',
    updatedAt: '2026-06-10T23:45:00.123Z',
    ...over,
  };
}

const at = (locationId: number) => ({ locationId, organizationId: ORG });

const created = (loc = HOME): DerivedEvent => ({
  type: 'contact.created',
  ...at(loc),
  data: { contactId, operation: 'create' },
});
const updated = (loc = HOME): DerivedEvent => ({
  type: 'contact.updated',
  ...at(loc),
  data: { contactId, operation: 'update' },
});
const deleted = (loc = HOME): DerivedEvent => ({
  type: 'contact.deleted',
  ...at(loc),
  data: { contactId, operation: 'delete' },
});
const status = (previousStatusId: ContactGroupId, newStatusId: ContactGroupId, loc = HOME): DerivedEvent => ({
  type: 'contact.status_changed',
  ...at(loc),
  data: { contactId, previousStatusId, newStatusId },
});
const subGroup = (
  previousSubGroupId: number | null,
  newSubGroupId: number | null,
  loc = HOME,
): DerivedEvent => ({
  type: 'contact.sub_group_changed',
  ...at(loc),
  data: { contactId, previousSubGroupId, newSubGroupId },
});

interface Row {
  name: string;
  before: Contact | null;
  after: Contact;
  defaultGroupId?: ContactGroupId;
  /** where partners last saw the contact (its last event's location) */
  lastSeenLocationId?: number;
  expected: DerivedEvent[];
}

const inactive = (over: Partial<Contact> = {}) => contact({ isActive: false, ...over });

const rows: Row[] = [
  // no contact → active
  {
    name: 'a new contact in the default group with no optional field emits only contact.created',
    before: null,
    after: contact(),
    expected: [created()],
  },
  {
    name: 'a new contact outside the default group also emits contact.status_changed from the default',
    before: null,
    after: contact({ contactGroupId: 3 }),
    expected: [created(), status(1, 3)],
  },
  {
    name: "a new contact in its location's default group 2 emits no contact.status_changed",
    before: null,
    after: contact({ contactGroupId: 2 }),
    defaultGroupId: 2,
    expected: [created()],
  },
  {
    name: 'a new Lead at a location whose default is 2 reports a status change from 2 to 1',
    before: null,
    after: contact({ contactGroupId: 1 }),
    defaultGroupId: 2,
    expected: [created(), status(2, 1)],
  },
  {
    name: 'a new contact given a sub-group also emits contact.sub_group_changed from null',
    before: null,
    after: contact({ subGroupId: 7 }),
    expected: [created(), subGroup(null, 7)],
  },
  {
    name: 'a new contact with an optional field set ends with contact.updated',
    before: null,
    after: contact({ firstName: 'Ana' }),
    expected: [created(), updated()],
  },
  {
    name: 'a new contact with a custom field set ends with contact.updated',
    before: null,
    after: contact({ customFields: { shoeSize: 42 } }),
    expected: [created(), updated()],
  },
  {
    name: 'a new contact whose optional fields hold their blank values emits no contact.updated',
    before: null,
    after: contact({ tags: [], canSms: false, email: null }),
    expected: [created()],
  },
  {
    name: 'a new contact with everything set emits created, status_changed, sub_group_changed, updated',
    before: null,
    after: contact({ contactGroupId: 3, subGroupId: 7, tags: ['vip'], canEmail: true }),
    expected: [created(), status(1, 3), subGroup(null, 7), updated()],
  },
  // no contact → inactive
  {
    name: 'a contact created and deleted in one window emits contact.created then contact.deleted only',
    before: null,
    after: inactive({ contactGroupId: 3, subGroupId: 7, firstName: 'Ana' }),
    expected: [created(), deleted()],
  },
  // active → inactive
  {
    name: 'a deleted contact emits one contact.deleted and no contact.updated',
    before: contact(),
    after: inactive(),
    expected: [deleted()],
  },
  {
    name: 'a contact changed and deleted in one window emits only contact.deleted, no typed events',
    before: contact({ subGroupId: 5 }),
    after: inactive({ contactGroupId: 4, subGroupId: null, lastName: 'Gone' }),
    expected: [deleted()],
  },
  {
    name: 'a contact transferred and deleted in one window is deleted at the location it left',
    before: contact({ subGroupId: 5 }),
    after: inactive({ locationId: AWAY }),
    expected: [deleted(HOME)],
  },
  // inactive → inactive
  {
    name: 'an inactive contact that stays inactive emits nothing, even when its fields change',
    before: inactive(),
    after: inactive({ contactGroupId: 4, subGroupId: 5, tags: ['x'] }),
    expected: [],
  },
  {
    name: 'an inactive contact transferred while inactive emits nothing',
    before: inactive(),
    after: inactive({ locationId: AWAY }),
    expected: [],
  },
  // inactive → active
  {
    name: 'a reactivated contact with no net change emits only contact.updated',
    before: inactive({ contactGroupId: 3, subGroupId: 5 }),
    after: contact({ contactGroupId: 3, subGroupId: 5 }),
    expected: [updated()],
  },
  {
    name: 'a reactivated contact whose group and sub-group changed emits both typed events then contact.updated',
    before: inactive({ contactGroupId: 4, subGroupId: 5 }),
    after: contact({ contactGroupId: 3, subGroupId: null }),
    expected: [status(4, 3), subGroup(5, null), updated()],
  },
  {
    name: 'a contact moved and reactivated in one window is created at its new location, with nothing else',
    before: inactive({ contactGroupId: 4, subGroupId: 5 }),
    after: contact({ locationId: AWAY, contactGroupId: 3, subGroupId: 8 }),
    expected: [created(AWAY)],
  },
  {
    name: 'a contact moved while inactive in an earlier window and reactivated now is created at its new location',
    before: inactive({ locationId: AWAY, contactGroupId: 4 }),
    after: contact({ locationId: AWAY, contactGroupId: 3 }),
    lastSeenLocationId: HOME,
    expected: [created(AWAY)],
  },
  {
    name: 'a contact moved away and back while inactive, then reactivated, is a plain reactivation',
    before: inactive({ contactGroupId: 4 }),
    after: contact({ contactGroupId: 3 }),
    lastSeenLocationId: HOME,
    expected: [status(4, 3), updated()],
  },
  // active → active, location changed
  {
    name: 'a transferred contact is deleted where it was and created where it is, with nothing else',
    before: contact({ subGroupId: 5 }),
    after: contact({ locationId: AWAY, contactGroupId: 3, firstName: 'Ana' }),
    expected: [deleted(HOME), created(AWAY)],
  },
  // active → active, same location
  {
    name: 'a group change emits contact.status_changed then contact.updated',
    before: contact(),
    after: contact({ contactGroupId: 3 }),
    expected: [status(1, 3), updated()],
  },
  {
    name: 'coalesced group changes Lead → Prospect → Member report Lead → Member once',
    before: contact({ contactGroupId: 1 }),
    after: contact({ contactGroupId: 3 }),
    expected: [status(1, 3), updated()],
  },
  {
    name: 'a first sub-group assignment emits sub_group_changed from null then contact.updated',
    before: contact(),
    after: contact({ subGroupId: 7 }),
    expected: [subGroup(null, 7), updated()],
  },
  {
    name: 'removing the sub-group emits sub_group_changed to null then contact.updated',
    before: contact({ subGroupId: 7 }),
    after: contact(),
    expected: [subGroup(7, null), updated()],
  },
  {
    name: 'moving between sub-groups emits sub_group_changed then contact.updated',
    before: contact({ subGroupId: 7 }),
    after: contact({ subGroupId: 12 }),
    expected: [subGroup(7, 12), updated()],
  },
  {
    name: 'a group and a sub-group change together emit status_changed, sub_group_changed, then updated',
    before: contact({ subGroupId: 3 }),
    after: contact({ contactGroupId: 2, subGroupId: 7, phone: '+15550100' }),
    expected: [status(1, 2), subGroup(3, 7), updated()],
  },
  {
    name: 'a change of tags only emits contact.updated only',
    before: contact({ tags: ['a'] }),
    after: contact({ tags: ['a', 'b'] }),
    expected: [updated()],
  },
  {
    name: 'a custom field change only emits contact.updated only',
    before: contact({ customFields: { shoeSize: 41 } }),
    after: contact({ customFields: {} }),
    expected: [updated()],
  },
  {
    name: 'a group changed A → B → A within the window nets to nothing',
    before: contact({ contactGroupId: 2 }),
    after: contact({ contactGroupId: 2 }),
    expected: [],
  },
  {
    name: 'a sub-group changed A → B → A within the window nets to nothing',
    before: contact({ subGroupId: 7 }),
    after: contact({ subGroupId: 7, updatedAt: '2026-06-10T23:45:09.000Z' }),
    expected: [],
  },
];

const windowOf = (r: Row): WindowInput => ({
  before: r.before,
  after: r.after,
  defaultGroupId: r.defaultGroupId ?? 1,
  ...(r.lastSeenLocationId !== undefined ? { lastSeenLocationId: r.lastSeenLocationId } : {}),
});

function envelopes(events: DerivedEvent[]) {
  const at = new Date().toISOString();
  return events.map((e) => toEnvelope(e, newEventId(), at));
}

describe('deriveEvents', () => {
  test.each(rows)('$name', (r) => {
    expect(deriveEvents(windowOf(r))).toEqual(r.expected);
  });

  test.each(rows)('the events of "$name" are valid envelopes once given an id and a timestamp', (r) => {
    for (const e of envelopes(deriveEvents(windowOf(r)))) {
      expect(eventErrors(e)).toEqual([]);
      expect(validateEvent(e)).toBe(true);
    }
  });

  test('the derived events do not depend on which contact object was passed (no mutation)', () => {
    const before = contact({ tags: ['a'] });
    const after = contact({ tags: ['a', 'b'], contactGroupId: 3 });
    const snapshot = structuredClone({ before, after });
    deriveEvents({ before, after, defaultGroupId: 1 });
    expect({ before, after }).toEqual(snapshot);
  });
});

describe('deriveEvents over arbitrary windows', () => {
  const group = fc.constantFrom<ContactGroupId>(1, 2, 3, 4, 5, 6, 7);
  const state = fc.record({
    locationId: fc.constantFrom(HOME, AWAY),
    isActive: fc.boolean(),
    contactGroupId: group,
    subGroupId: fc.constantFrom(null, 5, 7),
    firstName: fc.constantFrom(null, 'Ana', 'Bo'),
    tags: fc.constantFrom<string[]>([], ['vip'], ['a', 'b']),
    canSms: fc.boolean(),
    customFields: fc.constantFrom<Record<string, CustomValue>>({}, { shoeSize: 42 }),
  });
  const windowArb = fc.record({
    before: fc.option(state, { nil: null }),
    after: state,
    defaultGroupId: group,
  });
  const toWindow = (w: {
    before: Partial<Contact> | null;
    after: Partial<Contact>;
    defaultGroupId: ContactGroupId;
  }): WindowInput => ({
    before: w.before === null ? null : contact(w.before),
    after: contact(w.after),
    defaultGroupId: w.defaultGroupId,
  });

  test('every derived event is a valid envelope once given an id and a timestamp', () => {
    fc.assert(
      fc.property(windowArb, (w) => {
        for (const e of envelopes(deriveEvents(toWindow(w)))) expect(validateEvent(e)).toBe(true);
      }),
    );
  });

  test('a window never emits an event type twice, nor contact.updated together with contact.deleted', () => {
    fc.assert(
      fc.property(windowArb, (w) => {
        const types = deriveEvents(toWindow(w)).map((e) => e.type);
        expect(new Set(types).size).toBe(types.length);
        expect(types.includes('contact.deleted') && types.includes('contact.updated')).toBe(false);
      }),
    );
  });

  test('a typed event always comes with a contact.created or a contact.updated in the same window', () => {
    fc.assert(
      fc.property(windowArb, (w) => {
        const types = deriveEvents(toWindow(w)).map((e) => e.type);
        const typed = types.includes('contact.status_changed') || types.includes('contact.sub_group_changed');
        if (typed) expect(types.includes('contact.created') || types.includes('contact.updated')).toBe(true);
      }),
    );
  });

  test('a contact that ends the window inactive gets nothing but a creation and a deletion', () => {
    fc.assert(
      fc.property(windowArb, (w) => {
        fc.pre(!w.after.isActive);
        const types = deriveEvents(toWindow(w)).map((e) => e.type);
        expect(types.every((t) => t === 'contact.created' || t === 'contact.deleted')).toBe(true);
      }),
    );
  });

  test('an active contact left exactly as it was emits nothing', () => {
    fc.assert(
      fc.property(state, (s) => {
        const c = contact({ ...s, isActive: true });
        expect(deriveEvents({ before: c, after: { ...c }, defaultGroupId: 1 })).toEqual([]);
      }),
    );
  });
});
