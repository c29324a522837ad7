import { describe, expect, test } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  actorOf,
  canSeeLocation,
  canSeeOrganization,
  requireOperator,
  requireRole,
  scopeFilter,
  type Principal,
} from '../../src/domain/principal.js';

// Who may see what: the checks every route applies before reading or changing a tenant's data. A
// wrong answer here leaks one gym's contacts, events or endpoints to another's keys.
const operator: Principal = { kind: 'operator' };
// (asserted: an API key's principal gains fields, such as its partner app, that these checks of
// scope and role do not read)
const key = (over: Partial<Extract<Principal, { kind: 'api_key' }>>) =>
  ({
    kind: 'api_key',
    keyId: 7,
    role: 'staff',
    organizationId: null,
    locationId: null,
    ...over,
  }) as Principal;
const orgKey = key({ organizationId: 10 });
const locationKey = key({ organizationId: 10, locationId: 100 });
const partnerKey = key({ role: 'partner', locationId: 100 });

describe('canSeeLocation', () => {
  test('the operator sees every location', () => {
    expect(canSeeLocation(operator, { id: 1, organizationId: 0 })).toBe(true);
  });

  test('an organization key sees its organization’s locations, and only those', () => {
    expect(canSeeLocation(orgKey, { id: 100, organizationId: 10 })).toBe(true);
    expect(canSeeLocation(orgKey, { id: 101, organizationId: 10 })).toBe(true);
    expect(canSeeLocation(orgKey, { id: 200, organizationId: 20 })).toBe(false);
  });

  test('a location key sees its location only, not its organization’s others', () => {
    expect(canSeeLocation(locationKey, { id: 100, organizationId: 10 })).toBe(true);
    expect(canSeeLocation(locationKey, { id: 101, organizationId: 10 })).toBe(false);
  });

  test('a key with neither scope sees nothing, not even locations without an organization', () => {
    const unscoped = key({});
    expect(canSeeLocation(unscoped, { id: 1, organizationId: 0 })).toBe(false);
    expect(canSeeLocation(key({ organizationId: 0 }), { id: 1, organizationId: 0 })).toBe(true);
  });
});

describe('canSeeOrganization', () => {
  test('the operator and the organization’s own key see it; a location key and others do not', () => {
    expect(canSeeOrganization(operator, 10)).toBe(true);
    expect(canSeeOrganization(orgKey, 10)).toBe(true);
    expect(canSeeOrganization(orgKey, 20)).toBe(false);
    // a location key of that organization is not an organization key
    expect(canSeeOrganization(locationKey, 10)).toBe(false);
  });
});

describe('scopeFilter', () => {
  test('nothing for the operator, the location for a location key, else the organization', () => {
    expect(scopeFilter(operator)).toEqual({ organizationId: null, locationId: null });
    expect(scopeFilter(locationKey)).toEqual({ organizationId: null, locationId: 100 });
    expect(scopeFilter(orgKey)).toEqual({ organizationId: 10, locationId: null });
  });
});

describe('requireRole and requireOperator', () => {
  test('a key of the role and the operator pass; another role is refused with 403 naming both', () => {
    expect(() => requireRole(operator, 'staff')).not.toThrow();
    expect(() => requireRole(locationKey, 'staff')).not.toThrow();
    expect(() => requireRole(partnerKey, 'partner')).not.toThrow();
    let caught: unknown;
    try {
      requireRole(partnerKey, 'staff');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect(caught).toMatchObject({
      status: 403,
      code: 'forbidden',
      message: "this action needs a staff key; this key's role is partner",
    });
  });

  test('only the operator passes requireOperator', () => {
    expect(() => requireOperator(operator)).not.toThrow();
    expect(() => requireOperator(orgKey)).toThrow(
      expect.objectContaining({ status: 403, message: 'this action needs the operator key' }),
    );
  });
});

describe('actorOf', () => {
  test('the operator is recorded without an id, a key by its id', () => {
    expect(actorOf(operator)).toEqual({ actorType: 'operator', actorId: null });
    expect(actorOf(locationKey)).toEqual({ actorType: 'api_key', actorId: 7 });
  });
});
