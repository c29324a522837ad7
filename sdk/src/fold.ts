import { WebhookFoldError } from './errors.js';
import type { ContactEvent, ContactGroupId } from './events.js';

/** What one coalescing window did to a contact, told once instead of by several companion events. */
export interface ContactChange {
  contactId: number;
  organizationId: number;
  /** Where the contact is after the change (for a transfer, the location it arrived at). */
  locationId: number;
  /** The time of the window's last change, shared by all its events. */
  eventTimestamp: string;
  /**
   * - `created`: it became active here (new, possibly with a group, sub-group and fields set)
   * - `updated`: an active contact changed (see `status`, `subGroup`, and fetch it for the rest)
   * - `deleted`: it was deactivated (or, seen from a location-scoped subscription, moved away)
   * - `transferred`: it moved from `fromLocationId` to `locationId`
   * - `created_and_deleted`: it was added and deactivated within the window
   */
  kind: 'created' | 'updated' | 'deleted' | 'transferred' | 'created_and_deleted';
  /** The location it left, for a transfer; otherwise null. */
  fromLocationId: number | null;
  /** The Contact Group move, when the window changed it. */
  status: { previous: ContactGroupId; current: ContactGroupId } | null;
  /** The sub-group move (ids within `locationId`), when the window changed it. */
  subGroup: { previous: number | null; current: number | null } | null;
  /** Whether a `contact.updated` was among the events: some tracked field differs, fetch the contact. */
  fieldsChanged: boolean;
  /** The folded events, without repeats, in the order given. */
  events: ContactEvent[];
}

/**
 * Folds the events of one coalescing window (those delivered with the same `X-FPT-Window-Id`) into one
 * {@link ContactChange}. Repeats of an eventId count once. Throws {@link WebhookFoldError} when the
 * events are empty or belong to different contacts or times, which one window's events never do.
 */
export function foldWindow(events: readonly ContactEvent[]): ContactChange {
  const seen = new Set<string>();
  const unique = events.filter((e) => !seen.has(e.eventId) && seen.add(e.eventId));
  const first = unique[0];
  if (first === undefined) throw new WebhookFoldError('a window has at least one event; none were given');
  for (const e of unique) {
    if (e.data.contactId !== first.data.contactId || e.eventTimestamp !== first.eventTimestamp) {
      throw new WebhookFoldError(
        `events of contacts ${first.data.contactId} and ${e.data.contactId} at ${first.eventTimestamp} and ` +
          `${e.eventTimestamp} are not one window: a window is one contact at one eventTimestamp`,
      );
    }
  }

  let created: ContactEvent | undefined;
  let deleted: ContactEvent | undefined;
  let status: ContactChange['status'] = null;
  let subGroup: ContactChange['subGroup'] = null;
  let fieldsChanged = false;
  for (const e of unique) {
    switch (e.eventType) {
      case 'contact.created':
        created = e;
        break;
      case 'contact.deleted':
        deleted = e;
        break;
      case 'contact.status_changed':
        status = { previous: e.data.previousStatusId, current: e.data.newStatusId };
        break;
      case 'contact.sub_group_changed':
        subGroup = { previous: e.data.previousSubGroupId, current: e.data.newSubGroupId };
        break;
      case 'contact.updated':
        fieldsChanged = true;
        break;
    }
  }

  const last = unique[unique.length - 1] ?? first;
  let kind: ContactChange['kind'] = 'updated';
  let fromLocationId: number | null = null;
  if (created && deleted) {
    if (created.locationId !== deleted.locationId) {
      kind = 'transferred';
      fromLocationId = deleted.locationId;
    } else kind = 'created_and_deleted';
  } else if (created) kind = 'created';
  else if (deleted) kind = 'deleted';

  return {
    contactId: first.data.contactId,
    organizationId: first.organizationId,
    locationId: kind === 'transferred' && created ? created.locationId : last.locationId,
    eventTimestamp: first.eventTimestamp,
    kind,
    fromLocationId,
    status,
    subGroup,
    fieldsChanged,
    events: unique,
  };
}
