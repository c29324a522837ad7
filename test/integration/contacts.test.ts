import { describe, expect } from 'vitest';
import { apiTest as test, type TestApi } from '../helpers/api.js';

const countRows = async (api: TestApi, table: string): Promise<number> => {
  const { rows } = await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
};

describe('creating contacts', () => {
  test('a created contact gets the location default group, blank fields, and its ids', async ({
    api,
    tenant,
  }) => {
    const res = await api.post(
      `/api/locations/${tenant.locA}/contacts`,
      { firstName: 'Ada', email: 'ada@example.com' },
      { key: tenant.keys.orgStaff },
    );
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
    expect(res.body.contactId).toEqual(expect.any(Number));
    expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
    const got = await api.get(`/api/contacts/${res.body.contactId}`, { key: tenant.keys.orgPartner });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
  });

  test('a location with another default group gives new contacts that group', async ({ api }) => {
    const loc = await api.create('/api/locations', { name: 'Members Only', defaultContactGroupId: 3 });
    const c = await api.create(`/api/locations/${loc.id}/contacts`, { firstName: 'Bo' });
    expect(c.contactGroupId).toBe(3);
    expect(c.organizationId).toBe(0);
  });

  test('every field is stored: tags as a sorted set, timestamps in UTC milliseconds', async ({
    api,
    tenant,
  }) => {
    const sg = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Gold' });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      firstName: 'Cy',
      lastName: 'Young',
      email: 'cy@example.com',
      phone: '+44 20 7946 0000',
      contactGroupId: 2,
      subGroupId: sg.subGroupId,
      tags: ['yoga', 'hiit', 'yoga', ' hiit '],
      canSms: true,
      canEmail: true,
      canCall: false,
      lastContactedAt: '2026-06-10T23:45:00.123456+02:00',
      lastSmsInAt: null,
      lastCallAt: '2026-06-01T10:00:00Z',
      assignedStaffId: 42,
      membershipType: 'Gold',
      trialEndsAt: '2026-07-01T00:00:00.000Z',
      externalId: 'crm-77',
      customFields: { shoeSize: 44, referral: 'friend', waiver: true, dropped: null },
    });
    expect(c).toMatchObject({
      contactGroupId: 2,
      subGroupId: sg.subGroupId,
      tags: ['hiit', 'yoga'],
      lastContactedAt: '2026-06-10T21:45:00.123Z',
      lastCallAt: '2026-06-01T10:00:00.000Z',
      assignedStaffId: 42,
      externalId: 'crm-77',
      customFields: { shoeSize: 44, referral: 'friend', waiver: true },
    });
  });

  test('two contacts of one location cannot share an externalId', async ({ api, tenant }) => {
    await api.create(`/api/locations/${tenant.locA}/contacts`, { externalId: 'x1' });
    const dup = await api.post(`/api/locations/${tenant.locA}/contacts`, { externalId: 'x1' });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: 'conflict', field: 'externalId' });
    const elsewhere = await api.post(`/api/locations/${tenant.locB}/contacts`, { externalId: 'x1' });
    expect(elsewhere.status).toBe(201);
  });

  test('a contact is found by its externalId, active or not, at its location only', async ({
    api,
    tenant,
  }) => {
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { externalId: 'crm-9' });
    await api.create(`/api/locations/${tenant.locA}/contacts`, { externalId: 'crm-10' });
    await api.delete(`/api/contacts/${contactId}`);
    const found = await api.get(`/api/locations/${tenant.locA}/contacts?externalId=crm-9`);
    expect(found.body.data.map((c: { contactId: number }) => c.contactId)).toEqual([contactId]);
    const elsewhere = await api.get(`/api/locations/${tenant.locB}/contacts?externalId=crm-9`);
    expect(elsewhere.body.data).toEqual([]);
  });

  test('contacts of a location are listed oldest first with a cursor', async ({ api, tenant }) => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        (await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: `n${i}` })).contactId,
      );
    await api.delete(`/api/contacts/${ids[1]}`);
    const page1 = await api.get(`/api/locations/${tenant.locA}/contacts?limit=2`);
    expect(page1.body.data.map((c: { contactId: number }) => c.contactId)).toEqual(ids.slice(0, 2));
    const page2 = await api.get(
      `/api/locations/${tenant.locA}/contacts?limit=10&after=${page1.body.nextCursor}`,
    );
    expect(page2.body.data.map((c: { contactId: number }) => c.contactId)).toEqual(ids.slice(2));
    expect(page2.body.nextCursor).toBeNull();
    const active = await api.get(`/api/locations/${tenant.locA}/contacts?isActive=true`);
    expect(active.body.data).toHaveLength(4);
  });
});

describe('changing contacts', () => {
  test('a partial update changes only the fields it names', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      firstName: 'Di',
      lastName: 'Ode',
      tags: ['a'],
    });
    const res = await api.patch(`/api/contacts/${c.contactId}`, { lastName: 'Odd', contactGroupId: 2 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ firstName: 'Di', lastName: 'Odd', contactGroupId: 2, tags: ['a'] });
    expect(res.body.updatedAt >= c.updatedAt).toBe(true);
  });

  test('custom fields merge, and null removes one', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { customFields: { a: 1, b: 'x' } });
    const res = await api.patch(`/api/contacts/${c.contactId}`, { customFields: { b: null, c: true } });
    expect(res.body.customFields).toEqual({ a: 1, c: true });
  });

  test('delete is soft: the contact stays readable, inactive', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ed' });
    const del = await api.delete(`/api/contacts/${c.contactId}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ contactId: c.contactId, isActive: false, firstName: 'Ed' });
    expect((await api.get(`/api/contacts/${c.contactId}`)).body.isActive).toBe(false);
    const again = await api.post(`/api/contacts/${c.contactId}/reactivate`);
    expect(again.body.isActive).toBe(true);
  });

  test('isActive in a partial update deletes or reactivates', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {});
    expect((await api.patch(`/api/contacts/${c.contactId}`, { isActive: false })).body.isActive).toBe(false);
    const history = await api.get(`/api/contacts/${c.contactId}/history`);
    expect(history.body.data.map((h: { operation: string }) => h.operation)).toEqual(['create', 'delete']);
  });

  test('a transfer moves the contact within its organization and clears its sub-group', async ({
    api,
    tenant,
  }) => {
    const sg = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Gold' });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      subGroupId: sg.subGroupId,
      contactGroupId: 3,
    });
    const res = await api.post(
      `/api/contacts/${c.contactId}/transfer`,
      { locationId: tenant.locB },
      { key: tenant.keys.orgStaff },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      locationId: tenant.locB,
      organizationId: tenant.orgId,
      subGroupId: null,
      contactGroupId: 3,
    });
    const h = await api.get(`/api/contacts/${c.contactId}/history`);
    expect(h.body.data[1]).toMatchObject({
      seq: 2,
      operation: 'transfer',
      locationId: tenant.locB,
      changes: {
        locationId: { from: tenant.locA, to: tenant.locB },
        subGroupId: { from: sg.subGroupId, to: null },
      },
    });
  });

  test('a transfer to another organization, or from a location without one, is refused', async ({
    api,
    tenant,
  }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {});
    const cross = await api.post(`/api/contacts/${c.contactId}/transfer`, { locationId: tenant.otherLoc });
    expect(cross.status).toBe(422);
    expect(cross.body.error).toMatchObject({ code: 'cross_organization_transfer', field: 'locationId' });
    const solo = await api.create(`/api/locations/${tenant.locSolo}/contacts`, {});
    const fromSolo = await api.post(`/api/contacts/${solo.contactId}/transfer`, { locationId: tenant.locA });
    expect(fromSolo.status).toBe(422);
    const missing = await api.post(`/api/contacts/${c.contactId}/transfer`, { locationId: 999999 });
    expect(missing.status).toBe(404);
    expect(missing.body.error.field).toBe('locationId');
    expect((await api.get(`/api/contacts/${c.contactId}`)).body.locationId).toBe(tenant.locA);
  });

  test('a location-scoped key cannot transfer a contact to a location it cannot see', async ({
    api,
    tenant,
  }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {});
    const res = await api.post(
      `/api/contacts/${c.contactId}/transfer`,
      { locationId: tenant.locB },
      { key: tenant.keys.locAStaff },
    );
    expect(res.status).toBe(404);
    expect(res.body.error.field).toBe('locationId');
  });
});

describe('history', () => {
  test('every committed change is one history row with sequence, source, actor and before/after', async ({
    api,
    tenant,
  }) => {
    const me = (await api.get('/api/me', { key: tenant.keys.orgStaff })).body;
    const c = await api.create(
      `/api/locations/${tenant.locA}/contacts`,
      { firstName: 'Fay' },
      tenant.keys.orgStaff,
    );
    await api.patch(
      `/api/contacts/${c.contactId}`,
      { contactGroupId: 2 },
      { key: tenant.keys.orgStaff, headers: { 'x-change-source': 'automation' } },
    );
    await api.patch(
      `/api/contacts/${c.contactId}`,
      { contactGroupId: 3 },
      { key: tenant.keys.orgStaff, headers: { 'x-change-source': 'billing' } },
    );
    await api.delete(`/api/contacts/${c.contactId}`, { headers: { 'x-change-source': 'import' } });
    const res = await api.get(`/api/contacts/${c.contactId}/history`, { key: tenant.keys.orgPartner });
    expect(res.status).toBe(200);
    const rows = res.body.data;
    expect(rows.map((r: { seq: number }) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(rows[0]).toMatchObject({
      operation: 'create',
      source: 'staff',
      actor: me.id,
      actorType: 'api_key',
      changes: {
        firstName: { from: null, to: 'Fay' },
        contactGroupId: { from: null, to: 1 },
        isActive: { from: null, to: true },
        locationId: { from: null, to: tenant.locA },
      },
    });
    // nothing is coalesced here: Lead → Prospect → Member is two rows
    expect(rows[1]).toMatchObject({ source: 'automation', changes: { contactGroupId: { from: 1, to: 2 } } });
    expect(rows[2]).toMatchObject({ source: 'billing', changes: { contactGroupId: { from: 2, to: 3 } } });
    expect(Object.keys(rows[1].changes)).toEqual(['contactGroupId']);
    expect(rows[3]).toMatchObject({
      operation: 'delete',
      source: 'import',
      actor: null,
      actorType: 'operator',
      changes: { isActive: { from: true, to: false } },
    });
    for (const r of rows) expect(new Date(r.at).toISOString()).toBe(r.at);
  });

  test('a change that changes nothing writes no history row', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      firstName: 'Gil',
      tags: ['b', 'a'],
    });
    await api.patch(`/api/contacts/${c.contactId}`, { firstName: 'Gil', tags: ['a', 'b'] });
    await api.post(`/api/contacts/${c.contactId}/reactivate`);
    await api.post(`/api/contacts/${c.contactId}/transfer`, { locationId: tenant.locA });
    await api.delete(`/api/contacts/${c.contactId}`);
    await api.delete(`/api/contacts/${c.contactId}`);
    const rows = (await api.get(`/api/contacts/${c.contactId}/history`)).body.data;
    expect(rows.map((r: { operation: string }) => r.operation)).toEqual(['create', 'delete']);
  });

  test('custom fields are tracked one by one', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { customFields: { a: 1 } });
    await api.patch(`/api/contacts/${c.contactId}`, { customFields: { a: 2, b: 'x' } });
    const rows = (await api.get(`/api/contacts/${c.contactId}/history`)).body.data;
    expect(rows[0].changes['customFields.a']).toEqual({ from: null, to: 1 });
    expect(rows[1].changes).toEqual({
      'customFields.a': { from: 1, to: 2 },
      'customFields.b': { from: null, to: 'x' },
    });
  });

  test('history pages by sequence number', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {});
    for (let i = 0; i < 4; i++) await api.patch(`/api/contacts/${c.contactId}`, { firstName: `v${i}` });
    const p1 = await api.get(`/api/contacts/${c.contactId}/history?limit=3`);
    expect(p1.body.data.map((r: { seq: number }) => r.seq)).toEqual([1, 2, 3]);
    const p2 = await api.get(`/api/contacts/${c.contactId}/history?after=${p1.body.nextCursor}`);
    expect(p2.body.data.map((r: { seq: number }) => r.seq)).toEqual([4, 5]);
    expect(p2.body.nextCursor).toBeNull();
  });

  test('a write that fails writes nothing: no contact change, no history row', async ({ api, tenant }) => {
    const sgB = await api.create(`/api/locations/${tenant.locB}/sub-groups`, { name: 'B only' });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Hal' });
    const before = await countRows(api, 'contact_history');
    const res = await api.patch(`/api/contacts/${c.contactId}`, {
      firstName: 'Changed',
      subGroupId: sgB.subGroupId,
    });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'invalid_reference', field: 'subGroupId' });
    expect((await api.get(`/api/contacts/${c.contactId}`)).body.firstName).toBe('Hal');
    expect(await countRows(api, 'contact_history')).toBe(before);
  });
});
