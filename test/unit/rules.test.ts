import { describe, expect, test } from 'vitest';
import { BLANK_FIELDS, type Contact } from '../../src/domain/contact.js';
import { actOn, checkRule, dueAt, planSteps, triggeredBy, type Rule } from '../../src/domain/rules.js';

const contact = (over: Partial<Contact> = {}): Contact => ({
  ...BLANK_FIELDS,
  contactGroupId: 1,
  contactId: 1,
  locationId: 10,
  organizationId: 1,
  isActive: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

const rule = (id: number, input: Parameters<typeof checkRule>[0]): Rule => ({
  id,
  locationId: 10,
  ...checkRule(input),
});

describe('automation rules (pure)', () => {
  test('checking normalizes values as the contact API stores them', () => {
    const r = checkRule({
      name: 'n',
      trigger: { type: 'field_changed', field: 'trialEndsAt', to: '2026-07-01T02:00:00+02:00' },
      conditions: [{ field: 'tags', op: 'eq', value: ['b', ' a', 'b'] }],
      action: { set: { subGroupId: null } },
    });
    expect(r).toEqual({
      name: 'n',
      enabled: true,
      trigger: { type: 'field_changed', field: 'trialEndsAt', to: '2026-07-01T00:00:00.000Z' },
      conditions: [{ field: 'tags', op: 'eq', value: ['a', 'b'] }],
      action: { set: { subGroupId: null } },
    });
  });

  test('field_changed fires on a change of the field to the value, from the listed sources only', () => {
    const r = rule(1, {
      name: 'n',
      trigger: { type: 'field_changed', field: 'contactGroupId', to: 4, sources: ['billing'] },
      action: { set: { subGroupId: 3 } },
    });
    const before = contact({ contactGroupId: 3 });
    const after = contact({ contactGroupId: 4 });
    expect(triggeredBy(r, { before, after, source: 'billing' })).toBe(true);
    expect(triggeredBy(r, { before, after, source: 'staff' })).toBe(false);
    expect(triggeredBy(r, { before: after, after, source: 'billing' })).toBe(false);
    // a creation sets the group
    expect(triggeredBy(r, { before: null, after, source: 'billing' })).toBe(true);
  });

  test('an action that changes nothing, or on an inactive contact or another location, is no step', () => {
    const r = rule(1, {
      name: 'n',
      trigger: { type: 'field_condition', field: 'canSms', op: 'eq', value: true },
      action: { set: { contactGroupId: 2 } },
    });
    expect(actOn(r, contact({ contactGroupId: 2 }))).toBeUndefined();
    expect(actOn(r, contact({ isActive: false }))).toBeUndefined();
    expect(actOn(r, contact({ locationId: 11 }))).toBeUndefined();
    expect(actOn(r, contact())?.contactGroupId).toBe(2);
  });

  test('rules act in order, each on the contact as the previous one left it', () => {
    const toMember = rule(1, {
      name: 'a',
      trigger: { type: 'field_condition', field: 'canSms', op: 'eq', value: true },
      action: { set: { contactGroupId: 3 } },
    });
    const onlyLeads = rule(2, {
      name: 'b',
      trigger: { type: 'field_condition', field: 'canSms', op: 'eq', value: true },
      conditions: [{ field: 'contactGroupId', op: 'eq', value: 1 }],
      action: { set: { contactGroupId: 5 } },
    });
    const states = new Map([[1, contact({ canSms: true })]]);
    const steps = planSteps(
      [
        { rule: toMember, contactId: 1 },
        { rule: onlyLeads, contactId: 1 },
      ],
      states,
    );
    expect(steps.map((s) => [s.rule.id, s.before.contactGroupId, s.after.contactGroupId])).toEqual([
      [1, 1, 3],
    ]);
    expect(states.get(1)?.contactGroupId).toBe(3);
  });

  test('a time trigger is due at the field plus its offset, never without the field', () => {
    const t = { type: 'time' as const, field: 'trialEndsAt' as const, offsetMinutes: -60 };
    expect(dueAt(t, contact({ trialEndsAt: '2026-07-01T00:00:00.000Z' }))).toBe(
      Date.parse('2026-06-30T23:00:00.000Z'),
    );
    expect(dueAt(t, contact())).toBeUndefined();
  });
});
