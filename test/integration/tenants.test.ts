import { describe, expect } from 'vitest';
import { hashKey } from '../../src/store/api-keys.js';
import { storedOperatorKey } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import { createLogger } from '../../src/log.js';
import { ensureGeneratedAdminKey, resetGeneratedAdminKey } from '../../src/store/settings.js';
import { apiTest as test, TestApi, testConfig } from '../helpers/api.js';

describe('tenants and keys', () => {
  test('the operator creates organizations and locations; a location without one reports 0', async ({
    api,
  }) => {
    const org = await api.post('/api/organizations', { name: 'Iron Temple' });
    expect(org.status).toBe(201);
    expect(org.body).toMatchObject({ id: expect.any(Number), name: 'Iron Temple' });
    const loc = await api.post('/api/locations', { name: 'Downtown', organizationId: org.body.id });
    expect(loc.body).toMatchObject({
      id: expect.any(Number),
      name: 'Downtown',
      organizationId: org.body.id,
      defaultContactGroupId: 1,
    });
    const solo = await api.post('/api/locations', { name: 'Solo', defaultContactGroupId: 5 });
    expect(solo.body).toMatchObject({ organizationId: 0, defaultContactGroupId: 5 });
    const bad = await api.post('/api/locations', { name: 'X', organizationId: 424242 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.field).toBe('organizationId');
    const badGroup = await api.post('/api/locations', { name: 'X', defaultContactGroupId: 8 });
    expect(badGroup.status).toBe(400);
    expect(badGroup.body.error).toMatchObject({
      code: 'invalid_contact_group',
      field: 'defaultContactGroupId',
    });
  });

  test('an API key is shown once and stored only as a hash', async ({ api, tenant }) => {
    const res = await api.post('/api/api-keys', {
      role: 'partner',
      locationId: tenant.locA,
      description: 'Mailer',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.any(Number),
      role: 'partner',
      organizationId: null,
      locationId: tenant.locA,
    });
    expect(res.body.key).toMatch(/^fpt_partner_[A-Za-z0-9_-]{43}$/);
    const list = await api.get('/api/api-keys');
    expect(JSON.stringify(list.body)).not.toContain(res.body.key);
    const stored = await api.db.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE id = $1', [
      res.body.id,
    ]);
    expect(stored.rows[0]!.key_hash).toBe(hashKey(res.body.key));
    const me = await api.get('/api/me', { key: res.body.key });
    expect(me.body).toMatchObject({
      kind: 'api_key',
      id: res.body.id,
      role: 'partner',
      organizationId: null,
      locationId: tenant.locA,
      appId: res.body.appId,
      session: null,
    });
    expect(res.body.appId).toMatch(/^app_[0-9a-f]{32}$/);
  });

  test('a key needs exactly one scope that exists', async ({ api, tenant }) => {
    const both = await api.post('/api/api-keys', {
      role: 'staff',
      organizationId: tenant.orgId,
      locationId: tenant.locA,
    });
    expect(both.status).toBe(400);
    expect(both.body.error.code).toBe('invalid_scope');
    const neither = await api.post('/api/api-keys', { role: 'staff' });
    expect(neither.status).toBe(400);
    expect(neither.body.error.field).toBe('organizationId');
    const badRole = await api.post('/api/api-keys', { role: 'owner', locationId: tenant.locA });
    expect(badRole.status).toBe(400);
    expect(badRole.body.error.field).toBe('role');
    expect(badRole.body.error.message).toBe('role must be one of "staff", "partner"');
    const ghost = await api.post('/api/api-keys', { role: 'staff', locationId: 999999 });
    expect(ghost.status).toBe(422);
    expect(ghost.body.error.field).toBe('locationId');
  });

  test('a revoked key is refused at once', async ({ api, tenant }) => {
    const key = await api.create('/api/api-keys', { role: 'staff', locationId: tenant.locA });
    expect((await api.get(`/api/locations/${tenant.locA}`, { key: key.key })).status).toBe(200);
    const revoked = await api.delete(`/api/api-keys/${key.id}`);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const res = await api.get(`/api/locations/${tenant.locA}`, { key: key.key });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  test('requests without a valid key get 401', async ({ api }) => {
    for (const headers of [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer fpt_staff_nope' },
    ] as Record<string, string>[]) {
      const res = await api.call('GET', '/api/locations', { key: null, headers });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
  });

  test('only the operator manages tenants and keys', async ({ api, tenant }) => {
    const key = tenant.keys.orgStaff;
    expect((await api.post('/api/organizations', { name: 'X' }, { key })).status).toBe(403);
    expect(
      (await api.post('/api/locations', { name: 'X', organizationId: tenant.orgId }, { key })).status,
    ).toBe(403);
    expect(
      (await api.post('/api/api-keys', { role: 'staff', locationId: tenant.locA }, { key })).status,
    ).toBe(403);
    expect((await api.get('/api/api-keys', { key })).status).toBe(403);
  });

  test('a generated operator key, once reset, is refused and the new one works, with no restart', async ({
    db,
  }) => {
    const first = (await ensureGeneratedAdminKey(db))!;
    // (the processes re-read the stored key every few seconds; this one at every request)
    const app = buildApi({
      db,
      config: testConfig(),
      operatorKey: storedOperatorKey(db, 0),
      logger: createLogger('silent'),
    });
    const api = new TestApi(app, db);
    try {
      expect((await api.post('/api/organizations', { name: 'A' }, { key: first })).status).toBe(201);
      const second = await resetGeneratedAdminKey(db);
      expect(second).toMatch(/^fpt_admin_[A-Za-z0-9_-]{43}$/);
      const refused = await api.post('/api/organizations', { name: 'B' }, { key: first });
      expect(refused.status).toBe(401);
      expect((await api.post('/api/organizations', { name: 'C' }, { key: second })).status).toBe(201);
    } finally {
      await app.close();
    }
  });

  test('a key lists only the locations in its scope', async ({ api, tenant }) => {
    const ids = async (key: string) =>
      (await api.get('/api/locations', { key })).body.data.map((l: { id: number }) => l.id).sort();
    expect(await ids(tenant.keys.orgPartner)).toEqual([tenant.locA, tenant.locB].sort());
    expect(await ids(tenant.keys.locAStaff)).toEqual([tenant.locA]);
    expect(await ids(tenant.keys.otherStaff)).toEqual([tenant.otherLoc]);
    expect(
      (await api.get(`/api/organizations/${tenant.orgId}`, { key: tenant.keys.orgPartner })).status,
    ).toBe(200);
    expect(
      (await api.get(`/api/organizations/${tenant.orgId}`, { key: tenant.keys.otherStaff })).status,
    ).toBe(404);
    expect((await api.get(`/api/organizations/${tenant.orgId}`, { key: tenant.keys.locAStaff })).status).toBe(
      404,
    );
    // the list answers as the single reads do
    const orgs = async (key?: string) =>
      (await api.get('/api/organizations', key ? { key } : {})).body.data.map(
        (o: { id: number; name: string }) => o.name,
      );
    expect(await orgs()).toEqual(['Iron Temple', 'Other Gym Co']);
    expect(await orgs(tenant.keys.orgStaff)).toEqual(['Iron Temple']);
    expect(await orgs(tenant.keys.orgPartner)).toEqual(['Iron Temple']);
    expect(await orgs(tenant.keys.otherStaff)).toEqual(['Other Gym Co']);
    expect(await orgs(tenant.keys.locAStaff)).toEqual([]);
  });
});

describe('scope: outside it 404, lacking the role 403', () => {
  test('a key never sees contacts outside its scope', async ({ api, tenant }) => {
    const inB = await api.create(`/api/locations/${tenant.locB}/contacts`, { firstName: 'B' });
    const inSolo = await api.create(`/api/locations/${tenant.locSolo}/contacts`, { firstName: 'S' });
    const checks: [string, number][] = [
      [tenant.keys.locAStaff, inB.contactId],
      [tenant.keys.locAPartner, inB.contactId],
      [tenant.keys.otherStaff, inB.contactId],
      [tenant.keys.orgStaff, inSolo.contactId],
    ];
    for (const [key, id] of checks) {
      for (const [method, url, body] of [
        ['GET', `/api/contacts/${id}`, undefined],
        ['GET', `/api/contacts/${id}/history`, undefined],
        ['PATCH', `/api/contacts/${id}`, { firstName: 'Mallory' }],
        ['DELETE', `/api/contacts/${id}`, undefined],
        ['POST', `/api/contacts/${id}/reactivate`, undefined],
        ['POST', `/api/contacts/${id}/transfer`, { locationId: tenant.locA }],
      ] as const) {
        const res = await api.call(method, url, { key, ...(body ? { body } : {}) });
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(JSON.stringify(res.body)).not.toContain('Mallory');
      }
    }
    expect((await api.get(`/api/contacts/${inB.contactId}`)).body.firstName).toBe('B');
  });

  test('a key cannot reach a location outside its scope', async ({ api, tenant }) => {
    for (const url of [
      `/api/locations/${tenant.locB}`,
      `/api/locations/${tenant.locB}/contacts`,
      `/api/locations/${tenant.locB}/sub-groups`,
    ]) {
      expect((await api.get(url, { key: tenant.keys.locAStaff })).status).toBe(404);
    }
    const create = await api.post(
      `/api/locations/${tenant.otherLoc}/contacts`,
      { firstName: 'x' },
      { key: tenant.keys.orgStaff },
    );
    expect(create.status).toBe(404);
    const sg = await api.post(
      `/api/locations/${tenant.locB}/sub-groups`,
      { name: 'x' },
      { key: tenant.keys.locAStaff },
    );
    expect(sg.status).toBe(404);
  });

  test('a partner key reads contacts, history and sub-groups but cannot write them', async ({
    api,
    tenant,
  }) => {
    const key = tenant.keys.orgPartner;
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'P' });
    expect((await api.get(`/api/contacts/${c.contactId}`, { key })).status).toBe(200);
    expect((await api.get(`/api/contacts/${c.contactId}/history`, { key })).status).toBe(200);
    expect((await api.get(`/api/locations/${tenant.locA}/sub-groups`, { key })).status).toBe(200);
    expect((await api.get(`/api/locations/${tenant.locA}/contacts`, { key })).status).toBe(200);
    const writes = [
      await api.post(`/api/locations/${tenant.locA}/contacts`, { firstName: 'x' }, { key }),
      await api.patch(`/api/contacts/${c.contactId}`, { firstName: 'x' }, { key }),
      await api.delete(`/api/contacts/${c.contactId}`, { key }),
      await api.post(`/api/contacts/${c.contactId}/reactivate`, undefined, { key }),
      await api.post(`/api/contacts/${c.contactId}/transfer`, { locationId: tenant.locB }, { key }),
      await api.post(`/api/locations/${tenant.locA}/sub-groups`, { name: 'x' }, { key }),
    ];
    for (const res of writes) {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    const after = await api.get(`/api/contacts/${c.contactId}`);
    expect(after.body).toMatchObject({ firstName: 'P', isActive: true, locationId: tenant.locA });
  });
});
