/** The Contact Group ("status") enum: fixed, the same for every location. */
export const CONTACT_GROUPS = {
  1: 'Leads',
  2: 'Prospects',
  3: 'Members',
  4: 'Past Members',
  5: 'Non-members',
  6: 'Other',
  7: 'Staff',
} as const;

export type ContactGroupId = keyof typeof CONTACT_GROUPS;

export const CONTACT_GROUP_IDS = Object.keys(CONTACT_GROUPS).map(Number) as ContactGroupId[];

/** "1 (Leads), 2 (Prospects), …" for error messages. */
export const CONTACT_GROUP_LIST = CONTACT_GROUP_IDS.map((id) => `${id} (${CONTACT_GROUPS[id]})`).join(', ');
