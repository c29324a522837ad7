import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BLANK_FIELDS, type Contact, type CustomValue } from '../../src/domain/contact.js';
import type { ContactGroupId } from '../../src/domain/contact-groups.js';
import { EVENT_TYPES } from '../../src/domain/events.js';
import { COMPANION_RULES, firesWith } from '../../src/events/companions.js';
import { deriveEvents } from '../../src/events/derive.js';

const contact = (over: Partial<Contact>): Contact => ({
  ...BLANK_FIELDS,
  contactId: 9,
  locationId: 1,
  organizationId: 1,
  isActive: true,
  contactGroupId: 1,
  createdAt: '2026-06-10T23:44:00.000Z',
  updatedAt: '2026-06-10T23:45:00.000Z',
  ...over,
});

describe('the companion rules the catalog publishes', () => {
  const published = new Set(COMPANION_RULES.map((r) => r.events.join(' ')));

  test('every sequence of event types the coalescer sends for any window is a published rule', () => {
    const group = fc.constantFrom<ContactGroupId>(1, 2, 3, 4);
    const state = fc.record({
      locationId: fc.constantFrom(1, 2),
      isActive: fc.boolean(),
      contactGroupId: group,
      subGroupId: fc.constantFrom(null, 5, 7),
      firstName: fc.constantFrom(null, 'Ana'),
      tags: fc.constantFrom<string[]>([], ['vip']),
      customFields: fc.constantFrom<Record<string, CustomValue>>({}, { shoeSize: 42 }),
    });
    fc.assert(
      fc.property(
        fc.option(state, { nil: null }),
        state,
        group,
        fc.option(fc.constantFrom(1, 2), { nil: undefined }),
        (before, after, defaultGroupId, lastSeenLocationId) => {
          const events = deriveEvents({
            before: before === null ? null : contact(before),
            after: contact(after),
            defaultGroupId,
            ...(lastSeenLocationId !== undefined ? { lastSeenLocationId } : {}),
          });
          expect(published).toContain(events.map((e) => e.type).join(' '));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('each rule is a different change, and each type lists the types it shares a rule with', () => {
    expect(new Set(COMPANION_RULES.map((r) => r.change)).size).toBe(COMPANION_RULES.length);
    // a transfer: deleted where it was, created where it is
    expect(COMPANION_RULES.find((r) => r.change === 'moved to another location')?.events).toEqual([
      'contact.deleted',
      'contact.created',
    ]);
    expect(firesWith('contact.deleted')).toEqual(['contact.created']);
    expect(firesWith('contact.status_changed')).toEqual([
      'contact.created',
      'contact.updated',
      'contact.sub_group_changed',
    ]);
    for (const t of EVENT_TYPES) expect(firesWith(t)).not.toContain(t);
  });
});
