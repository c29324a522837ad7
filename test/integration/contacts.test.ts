import { describe, expect } from 'vitest';
import { apiTest as test } from '../helpers/api.js';

describe('contacts', () => {
  test('a created contact gets the location default group, blanks, and its ids', async ({ api, tenant }) => {
    const res = await api.post(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada', email: 'ada@example.com' }, { key: tenant.keys.orgStaff });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      locationId: tenant.locA,
      organizationId: tenant.orgId,
      isActive: true,
      contactGroupId: 1,
      subGroupId: null,
      firstName: 'Ada',
      lastName: null,
      email: 'ada@example.com',
      tags: [],
      canSms: false,
      customFields: {},
    });
    expect(typeof res.body.contactId).toBe('number');
    const got = await api.get(`/api/contacts/${res.body.contactId}`, { key: tenant.keys.orgPartner });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
  });
});
