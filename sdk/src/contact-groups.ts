import { CONTACT_GROUPS, type ContactGroupId, type ContactGroupName } from './events.js';

/**
 * The Contact Group ids by name, for readable comparisons: `event.data.newStatusId === ContactGroup.Members`.
 * The ids and names come from the generated catalog; a unit test checks these keys against its names.
 */
export const ContactGroup = {
  Leads: 1,
  Prospects: 2,
  Members: 3,
  PastMembers: 4,
  NonMembers: 5,
  Other: 6,
  Staff: 7,
} as const satisfies Record<string, ContactGroupId>;

/** Every Contact Group id, in order. */
export const CONTACT_GROUP_IDS: readonly ContactGroupId[] = Object.keys(CONTACT_GROUPS).map(
  Number,
) as ContactGroupId[];

/** Whether `v` is a Contact Group id (1-7). */
export function isContactGroupId(v: unknown): v is ContactGroupId {
  return typeof v === 'number' && Object.hasOwn(CONTACT_GROUPS, v);
}

/** The name of a Contact Group ("Members" for 3). */
export function contactGroupName(id: ContactGroupId): ContactGroupName {
  return CONTACT_GROUPS[id];
}
