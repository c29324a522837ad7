import { BLANK_FIELDS, type Contact } from '../domain/contact.js';
import { EVENT_TYPES, type EventType } from '../domain/events.js';
import { deriveEvents, type WindowInput } from './derive.js';

/**
 * The companion rules: which event types one coalescing window sends together, and in what order,
 * for each kind of change (SPEC §3), as the event catalog publishes them.
 *
 * They are not written down a second time: each rule is one example window, a contact before and
 * after it, and its events are what `deriveEvents` (the coalescer's own function) makes of it. A
 * change to the coalescer's rules changes what is published; the unit test `companions.test.ts`
 * checks that every sequence the coalescer can produce for any window is among these.
 */
export interface CompanionRule {
  /** the change within one window, for a person */
  change: string;
  /** the event types that window sends, in delivery order (empty: it sends nothing) */
  events: EventType[];
}

const HOME = 1;
const AWAY = 2;

function contact(over: Partial<Contact> = {}): Contact {
  return {
    ...BLANK_FIELDS,
    contactId: 1,
    locationId: HOME,
    organizationId: 1,
    isActive: true,
    contactGroupId: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

const inactive = (over: Partial<Contact> = {}) => contact({ isActive: false, ...over });
const member = { contactGroupId: 3 } as const;
const subGroup = { subGroupId: 7 } as const;
const named = { firstName: 'Ada' } as const;

/** One example window per kind of change; the location's default group is 1. */
const EXAMPLES: { change: string; before: Contact | null; after: Contact; lastSeenLocationId?: number }[] = [
  { change: "created in the location's default group, nothing else set", before: null, after: contact() },
  { change: 'created in another group', before: null, after: contact(member) },
  { change: 'created with a sub-group', before: null, after: contact(subGroup) },
  { change: 'created with other fields set (name, email…)', before: null, after: contact(named) },
  {
    change: 'created in another group, with a sub-group',
    before: null,
    after: contact({ ...member, ...subGroup }),
  },
  {
    change: 'created in another group, with other fields set',
    before: null,
    after: contact({ ...member, ...named }),
  },
  {
    change: 'created with a sub-group and other fields set',
    before: null,
    after: contact({ ...subGroup, ...named }),
  },
  {
    change: 'created in another group, with a sub-group and other fields set',
    before: null,
    after: contact({ ...member, ...subGroup, ...named }),
  },
  { change: 'created and deleted within one window', before: null, after: inactive() },
  { change: 'its group changed', before: contact(), after: contact(member) },
  { change: 'its sub-group changed', before: contact(), after: contact(subGroup) },
  {
    change: 'its group and sub-group changed',
    before: contact(),
    after: contact({ ...member, ...subGroup }),
  },
  { change: 'any other tracked field changed', before: contact(), after: contact(named) },
  { change: 'deleted', before: contact(), after: inactive() },
  { change: 'moved to another location', before: contact(), after: contact({ locationId: AWAY }) },
  { change: 'reactivated as it was', before: inactive(), after: contact() },
  { change: 'reactivated in another group', before: inactive(), after: contact(member) },
  { change: 'reactivated with another sub-group', before: inactive(), after: contact(subGroup) },
  {
    change: 'reactivated in another group and sub-group',
    before: inactive(),
    after: contact({ ...member, ...subGroup }),
  },
  {
    change: 'reactivated at another location than where it was deleted',
    before: inactive(),
    after: contact({ locationId: AWAY }),
    lastSeenLocationId: HOME,
  },
  { change: 'changed and changed back (A → B → A)', before: contact(named), after: contact(named) },
  { change: 'changed while deleted (inactive before and after)', before: inactive(), after: inactive(named) },
];

export const COMPANION_RULES: readonly CompanionRule[] = EXAMPLES.map((x) => {
  const window: WindowInput = {
    before: x.before,
    after: x.after,
    defaultGroupId: 1,
    ...(x.lastSeenLocationId !== undefined ? { lastSeenLocationId: x.lastSeenLocationId } : {}),
  };
  return { change: x.change, events: deriveEvents(window).map((e) => e.type) };
});

/** The other types that can come in one window with `type`, in the catalog's order. */
export function firesWith(type: EventType): EventType[] {
  const together = new Set<EventType>();
  for (const r of COMPANION_RULES)
    if (r.events.includes(type)) for (const t of r.events) if (t !== type) together.add(t);
  return EVENT_TYPES.filter((t) => together.has(t));
}
