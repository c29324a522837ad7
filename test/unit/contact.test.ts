import { describe, expect, test } from 'vitest';
import {
  applyPatch,
  BLANK_FIELDS,
  changesColumn,
  diffContact,
  normalizeInput,
  normalizeTags,
  type Contact,
} from '../../src/domain/contact.js';

const contact = (over: Partial<Contact> = {}): Contact => ({
  ...BLANK_FIELDS,
  contactGroupId: 1,
  contactId: 1,
  locationId: 10,
  organizationId: 5,
  isActive: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('diffContact', () => {
  test('a creation records every set field and where the contact lives', () => {
    expect(diffContact(null, contact({ firstName: 'A', tags: ['x'] }))).toEqual({
      locationId: { from: null, to: 10 },
      isActive: { from: null, to: true },
      contactGroupId: { from: null, to: 1 },
      firstName: { from: null, to: 'A' },
      tags: { from: null, to: ['x'] },
    });
  });

  test('an update records only what differs, tags compared as sets', () => {
    const before = contact({ tags: ['a', 'b'], canSms: false });
    expect(diffContact(before, { ...before, tags: ['a', 'b'] })).toEqual({});
    expect(diffContact(before, { ...before, tags: ['a'], canSms: true })).toEqual({
      tags: { from: ['a', 'b'], to: ['a'] },
      canSms: { from: false, to: true },
    });
  });

  test('custom fields are tracked per key, a removed key going to null', () => {
    const before = contact({ customFields: { a: 1, b: 2 } });
    expect(diffContact(before, { ...before, customFields: { b: 3 } })).toEqual({
      'customFields.a': { from: 1, to: null },
      'customFields.b': { from: 2, to: 3 },
    });
  });
});

describe('diffContact of lists and custom fields', () => {
  test('tags changed to others of the same number are a change; the same tags are not', () => {
    expect(diffContact(contact({ tags: ['a'] }), contact({ tags: ['b'] }))).toEqual({
      tags: { from: ['a'], to: ['b'] },
    });
    expect(diffContact(contact({ tags: ['a', 'b'] }), contact({ tags: ['a', 'b'] }))).toEqual({});
  });

  test('each custom field is its own change, named by its key', () => {
    expect(
      diffContact(
        contact({ customFields: { a: 1, b: 'x' } }),
        contact({ customFields: { b: 'y', c: true } }),
      ),
    ).toEqual({
      'customFields.a': { from: 1, to: null },
      'customFields.b': { from: 'x', to: 'y' },
      'customFields.c': { from: null, to: true },
    });
  });
});

describe('changesColumn', () => {
  test('names the columns a diff changes, custom fields as their one column', () => {
    const changes = diffContact(
      contact({ email: 'a@x.io', customFields: { a: 1 } }),
      contact({ email: 'b@x.io', customFields: {}, isActive: false }),
    );
    expect(changesColumn(changes, 'email')).toBe(true);
    expect(changesColumn(changes, 'customFields')).toBe(true);
    expect(changesColumn(changes, 'tags')).toBe(false);
    expect(changesColumn(diffContact(contact(), contact({ tags: ['t'] })), 'customFields')).toBe(false);
  });
});

describe('normalizeInput', () => {
  test('leaves out what was not sent, keeps a null timestamp null, and drops custom fields set to null', () => {
    expect(normalizeInput({ firstName: 'A' })).toEqual({ firstName: 'A' });
    expect(normalizeInput({ trialEndsAt: null })).toEqual({ trialEndsAt: null });
    expect(normalizeInput({ trialEndsAt: '2026-01-01T01:00:00+01:00' })).toEqual({
      trialEndsAt: '2026-01-01T00:00:00.000Z',
    });
    expect(normalizeInput({ customFields: { a: null, b: 1, c: false } })).toEqual({
      customFields: { b: 1, c: false },
    });
  });
});

describe('applyPatch', () => {
  test('custom fields merge: a key set to null goes, keys not named stay, others are set', () => {
    const after = applyPatch(contact({ customFields: { a: 1, b: 2 } }), { customFields: { a: null, c: 3 } });
    expect(after.customFields).toEqual({ b: 2, c: 3 });
    expect(applyPatch(contact({ customFields: { a: 1 } }), { firstName: 'Z' }).customFields).toEqual({
      a: 1,
    });
  });

  test('keeps unnamed fields, normalizes tags and timestamps, merges custom fields', () => {
    const before = contact({ firstName: 'A', customFields: { keep: 1, drop: 2 } });
    const after = applyPatch(before, {
      tags: ['b', 'a', 'b'],
      trialEndsAt: '2026-06-10T23:45:00+02:00',
      customFields: { drop: null, add: 'x' },
    });
    expect(after).toMatchObject({
      firstName: 'A',
      tags: ['a', 'b'],
      trialEndsAt: '2026-06-10T21:45:00.000Z',
      customFields: { keep: 1, add: 'x' },
    });
    expect(before.customFields).toEqual({ keep: 1, drop: 2 });
  });

  test('normalizeTags trims, drops empties and deduplicates', () => {
    expect(normalizeTags([' b', 'a', 'b ', ''])).toEqual(['a', 'b']);
  });
});
