import { diffContact, type Contact } from '../domain/contact.js';
import type { ContactGroupId } from '../domain/contact-groups.js';
import { API_VERSION, type ContactEvent, type EventData, type EventType } from '../domain/events.js';

export interface WindowInput {
  /** the contact before the window; null when the window created it */
  before: Contact | null;
  /** the contact after the window's last change */
  after: Contact;
  /** the location's default contact group, for a creation's status_changed companion */
  defaultGroupId: ContactGroupId;
  /**
   * For a reactivation: the location of the contact's last event, where partners last saw it
   * (its `contact.deleted`); undefined when unknown (purged by retention), then S0's location.
   */
  lastSeenLocationId?: number;
}

/** One event a window produces, before it gets an id and a timestamp; discriminated on `type`. */
export type DerivedEvent = {
  [T in EventType]: { type: T; locationId: number; organizationId: number; data: EventData<T> };
}[EventType];

/**
 * Tracked fields a creation reports as typed events or always sets. The rest are "optional": setting
 * any of them on creation adds a contact.updated.
 */
const NOT_OPTIONAL = new Set(['locationId', 'isActive', 'contactGroupId', 'subGroupId']);

type Place = Pick<Contact, 'locationId' | 'organizationId'>;

/**
 * The events one coalescing window produces, in delivery order, from the contact before the window
 * (S0) and after its last change (S1): the table of SPEC §3. Pure: the caller supplies both states.
 */
export function deriveEvents(w: WindowInput): DerivedEvent[] {
  const { before, after } = w;
  const contactId = after.contactId;
  const at = (p: Place) => ({ locationId: p.locationId, organizationId: p.organizationId });
  const created = (p: Place): DerivedEvent => ({
    type: 'contact.created',
    ...at(p),
    data: { contactId, operation: 'create' },
  });
  const updated = (p: Place): DerivedEvent => ({
    type: 'contact.updated',
    ...at(p),
    data: { contactId, operation: 'update' },
  });
  const deleted = (p: Place): DerivedEvent => ({
    type: 'contact.deleted',
    ...at(p),
    data: { contactId, operation: 'delete' },
  });
  const statusChanged = (p: Place, from: ContactGroupId, to: ContactGroupId): DerivedEvent[] =>
    from === to
      ? []
      : [
          {
            type: 'contact.status_changed',
            ...at(p),
            data: { contactId, previousStatusId: from, newStatusId: to },
          },
        ];
  const subGroupChanged = (p: Place, from: number | null, to: number | null): DerivedEvent[] =>
    from === to
      ? []
      : [
          {
            type: 'contact.sub_group_changed',
            ...at(p),
            data: { contactId, previousSubGroupId: from, newSubGroupId: to },
          },
        ];

  if (before === null) {
    // created and deleted in one window: partners still learn the contact existed, and that it is gone
    if (!after.isActive) return [created(after), deleted(after)];
    const optionalSet = Object.keys(diffContact(null, after)).some((f) => !NOT_OPTIONAL.has(f));
    return [
      created(after),
      // a creation is reported as a change away from what the location would have assigned by default
      ...statusChanged(after, w.defaultGroupId, after.contactGroupId),
      ...subGroupChanged(after, null, after.subGroupId),
      ...(optionalSet ? [updated(after)] : []),
    ];
  }

  // the contact leaves from where partners last saw it, even if it was also moved in this window
  if (!after.isActive) return before.isActive ? [deleted(before)] : [];

  if (!before.isActive) {
    if ((w.lastSeenLocationId ?? before.locationId) !== after.locationId) {
      // Moved while inactive (in this window or an earlier one) and reactivated: partners at S1's
      // location never saw this contact, so to them it is new, exactly as the arriving half of a
      // transfer.
      return [created(after)];
    }
    return [
      ...statusChanged(after, before.contactGroupId, after.contactGroupId),
      ...subGroupChanged(after, before.subGroupId, after.subGroupId),
      // always: the reactivation itself is the change partners need to hear about
      updated(after),
    ];
  }

  if (before.locationId !== after.locationId) {
    // A transfer: to partners at S0's location the contact is gone; to partners at S1's it is new. It
    // is only a creation there, without typed companions, because S0's group and sub-group were never
    // visible at S1's location and sub-group ids do not carry across locations.
    return [deleted(before), created(after)];
  }

  const changed = Object.keys(diffContact(before, after)).length > 0;
  return [
    ...statusChanged(after, before.contactGroupId, after.contactGroupId),
    ...subGroupChanged(after, before.subGroupId, after.subGroupId),
    // the typed events above are tracked fields too, so they always come with this one
    ...(changed ? [updated(after)] : []),
  ];
}

/** A derived event as partners receive it, once it has its id and its window's timestamp. */
export function toEnvelope(e: DerivedEvent, eventId: string, eventTimestamp: string): ContactEvent {
  // TypeScript cannot follow the pairing of `type` and `data` through a spread of the union
  return {
    eventId,
    eventType: e.type,
    eventTimestamp,
    locationId: e.locationId,
    organizationId: e.organizationId,
    apiVersion: API_VERSION,
    data: e.data,
  } as ContactEvent;
}
