import { describe, expect } from 'vitest';
import { apiTest as test } from '../helpers/api.js';

describe('sub-groups', () => {
  test('sub-group ids are numbered per location, so two locations can both have sub-group 1', async ({
    api,
    tenant,
  }) => {
    const a1 = await api.create(
      `/api/locations/${tenant.locA}/sub-groups`,
      { name: 'Gold' },
      tenant.keys.orgStaff,
    );
    const a2 = await api.create(
      `/api/locations/${tenant.locA}/sub-groups`,
      { name: 'Silver' },
      tenant.keys.orgStaff,
    );
    const b1 = await api.create(
      `/api/locations/${tenant.locB}/sub-groups`,
      { name: 'Gold' },
      tenant.keys.orgStaff,
    );
    expect(a1).toMatchObject({ subGroupId: 1, locationId: tenant.locA, name: 'Gold' });
    expect(a2).toMatchObject({ subGroupId: 2, locationId: tenant.locA, name: 'Silver' });
    expect(b1).toMatchObject({ subGroupId: 1, locationId: tenant.locB, name: 'Gold' });
    const list = await api.get(`/api/locations/${tenant.locA}/sub-groups`, { key: tenant.keys.locAPartner });
    expect(list.body.data.map((s: { name: string }) => s.name)).toEqual(['Gold', 'Silver']);
  });

  test('a sub-group is renamed in place; its contacts keep it', async ({ api, tenant }) => {
    const sg = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Trial' });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { subGroupId: sg.subGroupId });
    const res = await api.patch(`/api/locations/${tenant.locA}/sub-groups/${sg.subGroupId}`, {
      name: 'Intro Pack',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ subGroupId: sg.subGroupId, name: 'Intro Pack' });
    expect((await api.get(`/api/locations/${tenant.locA}/sub-groups/${sg.subGroupId}`)).body.name).toBe(
      'Intro Pack',
    );
    expect((await api.get(`/api/contacts/${c.contactId}`)).body.subGroupId).toBe(sg.subGroupId);
    // renaming is metadata: the contact's history does not move
    expect((await api.get(`/api/contacts/${c.contactId}/history`)).body.data).toHaveLength(1);
  });

  test('names are unique per location, ignoring case', async ({ api, tenant }) => {
    await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Gold' });
    const dup = await api.post(`/api/locations/${tenant.locA}/sub-groups`, { name: 'gold' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.field).toBe('name');
    const other = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Silver' });
    const rename = await api.patch(`/api/locations/${tenant.locA}/sub-groups/${other.subGroupId}`, {
      name: 'GOLD',
    });
    expect(rename.status).toBe(409);
  });

  test('bad names and unknown sub-groups are refused', async ({ api, tenant }) => {
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 7 }, { name: 'x', extra: 1 }]) {
      const res = await api.post(`/api/locations/${tenant.locA}/sub-groups`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.field).toEqual(expect.any(String));
    }
    expect((await api.patch(`/api/locations/${tenant.locA}/sub-groups/99`, { name: 'x' })).status).toBe(404);
    expect((await api.get(`/api/locations/${tenant.locA}/sub-groups`)).body.data).toEqual([]);
  });

  test("a contact cannot take another location's sub-group, even one with the same id", async ({
    api,
    tenant,
  }) => {
    const b = await api.create(`/api/locations/${tenant.locB}/sub-groups`, { name: 'B1' });
    await api.create(`/api/locations/${tenant.locB}/sub-groups`, { name: 'B2' });
    const a = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'A1' });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { subGroupId: a.subGroupId });
    expect(b.subGroupId).toBe(a.subGroupId); // both are sub-group 1, of different locations
    const res = await api.patch(`/api/contacts/${c.contactId}`, { subGroupId: 2 });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ field: 'subGroupId' });
    expect(res.body.error.message).toContain(`location ${tenant.locA}`);
    const unassigned = await api.patch(`/api/contacts/${c.contactId}`, { subGroupId: null });
    expect(unassigned.body.subGroupId).toBeNull();
  });
});
