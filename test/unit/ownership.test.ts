import { describe, expect, test } from 'vitest';
import {
  disablerOf,
  requireSubscriptionAction,
  subscriptionFilter,
  type OwnedSubscription,
  type SubscriptionAction,
} from '../../src/domain/ownership.js';
import type { Principal } from '../../src/domain/principal.js';

const operator: Principal = { kind: 'operator' };
const key = (role: 'staff' | 'partner', appId: string | null, locationId: number | null = 7): Principal => ({
  kind: 'api_key',
  keyId: 1,
  role,
  organizationId: locationId === null ? 3 : null,
  locationId,
  appId,
});
const staff = key('staff', null);
const partner = key('partner', 'app_a');

const sub = (over: Partial<OwnedSubscription> = {}): OwnedSubscription => ({
  id: 'sub_x',
  appId: 'app_a',
  organizationId: 3,
  locationId: 7,
  status: 'active',
  disabledBy: null,
  ...over,
});

const allowed = (
  p: Principal,
  s: OwnedSubscription,
  action: SubscriptionAction,
  to?: 'active' | 'paused' | 'disabled',
) => {
  try {
    requireSubscriptionAction(p, s, action, to);
    return true;
  } catch (err) {
    expect((err as { status?: number }).status).toBe(403);
    return false;
  }
};

describe('subscriptionFilter', () => {
  test('a partner key sees its app only, within its scope; staff and the operator any owner', () => {
    expect(subscriptionFilter(partner)).toEqual({
      organizationId: null,
      locationId: 7,
      ownApp: { appId: 'app_a' },
    });
    expect(subscriptionFilter(key('partner', 'app_b', null))).toEqual({
      organizationId: 3,
      locationId: null,
      ownApp: { appId: 'app_b' },
    });
    expect(subscriptionFilter(staff)).toEqual({ organizationId: null, locationId: 7, ownApp: undefined });
    expect(subscriptionFilter(operator)).toEqual({
      organizationId: null,
      locationId: null,
      ownApp: undefined,
    });
  });

  test('fails closed: a partner principal without an app still filters by app (and matches none)', () => {
    expect(subscriptionFilter(key('partner', null)).ownApp).toEqual({ appId: null });
  });
});

describe('requireSubscriptionAction', () => {
  test('the operator and the owning app may do everything', () => {
    for (const action of ['read', 'status', 'manage'] as const) {
      expect(allowed(operator, sub(), action)).toBe(true);
      expect(allowed(partner, sub(), action)).toBe(true);
    }
  });

  test("staff read and change the status of an app's subscription, and manage the gym's own", () => {
    expect(allowed(staff, sub(), 'read')).toBe(true);
    for (const to of ['active', 'paused', 'disabled'] as const)
      expect(allowed(staff, sub(), 'status', to)).toBe(true);
    expect(allowed(staff, sub(), 'manage')).toBe(false);
    expect(allowed(staff, sub({ appId: null }), 'manage')).toBe(true);
  });

  test('an app cannot undo what the gym or the operator disabled, but may undo its own and its failures', () => {
    for (const by of ['gym', 'operator'] as const) {
      const cutOff = sub({ status: 'disabled', disabledBy: by });
      expect(allowed(partner, cutOff, 'status', 'active')).toBe(false);
      expect(allowed(partner, cutOff, 'status', 'paused')).toBe(false);
      expect(allowed(partner, cutOff, 'status', 'disabled')).toBe(true);
      expect(allowed(partner, cutOff, 'read')).toBe(true);
      expect(allowed(partner, cutOff, 'manage')).toBe(true);
      expect(allowed(staff, cutOff, 'status', 'active')).toBe(true);
    }
    expect(allowed(partner, sub({ status: 'disabled', disabledBy: 'app' }), 'status', 'active')).toBe(true);
    expect(allowed(partner, sub({ status: 'disabled', disabledBy: null }), 'status', 'active')).toBe(true);
    // a gym's mark on a subscription no longer disabled binds nothing
    expect(allowed(partner, sub({ status: 'active', disabledBy: 'gym' }), 'status', 'paused')).toBe(true);
  });

  test('the operator may enable what the gym disabled; the refusals say who may', () => {
    const cutOff = (by: 'gym' | 'operator') => sub({ status: 'disabled', disabledBy: by });
    expect(allowed(operator, cutOff('gym'), 'status', 'active')).toBe(true);
    const message = (p: Principal, s: OwnedSubscription, action: SubscriptionAction, to?: 'active') => {
      try {
        requireSubscriptionAction(p, s, action, to);
      } catch (err) {
        return (err as Error).message;
      }
      return undefined;
    };
    expect(message(staff, sub(), 'manage')).toBe(
      "subscription sub_x belongs to app app_a: a staff key may read it and pause, resume or disable it; the rest is the app's",
    );
    expect(message(partner, cutOff('gym'), 'status', 'active')).toBe(
      "subscription sub_x was disabled by the gym's staff; only they can enable it again",
    );
    expect(message(partner, cutOff('operator'), 'status', 'active')).toBe(
      'subscription sub_x was disabled by the operator; only they can enable it again',
    );
  });

  test('who disabled is recorded by kind', () => {
    expect([disablerOf(operator), disablerOf(staff), disablerOf(partner)]).toEqual([
      'operator',
      'gym',
      'app',
    ]);
  });
});
