import { describe, expect } from 'vitest';
import { purgeIdempotencyKeys } from '../../src/store/idempotency.js';
import { apiTest, testConfig, type TestApi, type Tenant } from '../helpers/api.js';
import { deliverySettings } from '../helpers/delivery.js';

// local http:// endpoints allowed (FPT_ALLOW_PRIVATE_URLS=1)
const test = apiTest.extend({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  apiConfig: async ({}, use) => {
    await use(testConfig({ delivery: deliverySettings() }));
  },
});

const count = async (api: TestApi, table: string) =>
  (await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

const withKey = (key: string, apiKey?: string) => ({ headers: { 'idempotency-key': key }, key: apiKey });

/** Every POST that creates something: where, what, with which key, and the table it writes. */
async function creations(api: TestApi, tenant: Tenant) {
  const sub = await api.create(
    '/api/subscriptions',
    { url: 'http://127.0.0.1:9999/hooks', locationId: tenant.locA },
    tenant.keys.locAStaff,
  );
  return [
    { url: `/api/locations/${tenant.locA}/contacts`, body: { firstName: 'Ada' }, table: 'contacts' },
    { url: `/api/locations/${tenant.locA}/sub-groups`, body: { name: 'Morning' }, table: 'sub_groups' },
    {
      url: '/api/subscriptions',
      body: { url: 'http://127.0.0.1:9999/other', locationId: tenant.locA },
      table: 'subscriptions',
    },
    {
      url: '/api/api-keys',
      body: { role: 'partner', locationId: tenant.locA },
      table: 'api_keys',
      operator: true,
    },
    { url: '/api/organizations', body: { name: 'New Co' }, table: 'organizations', operator: true },
    { url: '/api/locations', body: { name: 'Annex' }, table: 'locations', operator: true },
    {
      url: `/api/locations/${tenant.locA}/contacts/import`,
      body: { contacts: [{ firstName: 'Bo', email: 'bo@example.com' }] },
      table: 'contact_history',
    },
    {
      url: `/api/locations/${tenant.locA}/automations`,
      body: {
        name: 'Trial ended',
        trigger: { type: 'time', field: 'trialEndsAt' },
        action: { set: { contactGroupId: 4 } },
      },
      table: 'automation_rules',
    },
    {
      url: `/api/subscriptions/${sub.id}/replay`,
      body: { since: new Date(Date.now() - 60_000).toISOString() },
      table: 'audit_log',
    },
    { url: `/api/subscriptions/${sub.id}/test`, body: {}, table: 'deliveries' },
  ];
}

describe('idempotent requests', () => {
  test('every create: the same key again answers the first answer and creates nothing', async ({
    api,
    tenant,
  }) => {
    for (const [i, c] of (await creations(api, tenant)).entries()) {
      const key = c.operator ? undefined : tenant.keys.locAStaff;
      const first = await api.post(c.url, c.body, withKey(`create-${i}`, key));
      expect(first.status, c.url).toBeLessThan(300);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const rows = await count(api, c.table);
      const again = await api.post(c.url, c.body, withKey(`create-${i}`, key));
      expect(again.status, c.url).toBe(first.status);
      expect(again.body, c.url).toEqual(first.body);
      expect(again.headers['idempotent-replayed'], c.url).toBe('true');
      expect(await count(api, c.table), c.url).toBe(rows);
    }
  });

  test('the same key with another body is 422; another API key has keys of its own', async ({
    api,
    tenant,
  }) => {
    const url = `/api/locations/${tenant.locA}/contacts`;
    const first = await api.post(url, { firstName: 'Ada' }, withKey('k1', tenant.keys.locAStaff));
    expect(first.status).toBe(201);
    const other = await api.post(url, { firstName: 'Eve' }, withKey('k1', tenant.keys.locAStaff));
    expect(other.status).toBe(422);
    expect(other.body.error).toMatchObject({ code: 'idempotency_key_reused', field: 'Idempotency-Key' });
    // the same key on another route is another request too
    const elsewhere = await api.post(
      `/api/locations/${tenant.locA}/sub-groups`,
      { name: 'Ada' },
      withKey('k1', tenant.keys.locAStaff),
    );
    expect(elsewhere.status).toBe(422);
    const byAnotherKey = await api.post(url, { firstName: 'Ada' }, withKey('k1', tenant.keys.orgStaff));
    expect(byAnotherKey.status).toBe(201);
    expect(byAnotherKey.body.contactId).not.toBe(first.body.contactId);
    expect(await count(api, 'contacts')).toBe(2);

    const bad = await api.post(url, { firstName: 'Ada' }, withKey('has space', tenant.keys.locAStaff));
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('Idempotency-Key');
  });

  test('concurrent duplicates create once', async ({ api, tenant }) => {
    const url = `/api/locations/${tenant.locA}/contacts`;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        api.post(url, { firstName: 'Ada' }, withKey('burst', tenant.keys.locAStaff)),
      ),
    );
    expect(await count(api, 'contacts')).toBe(1);
    const created = answers.filter((a) => a.status === 201);
    // the first, and any that came after it had finished (replays of it); the rest were told to retry
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const a of created) expect(a.body).toEqual(created[0]!.body);
    for (const a of answers.filter((x) => x.status !== 201)) {
      expect(a.status).toBe(409);
      expect(a.body.error.code).toBe('idempotency_key_in_use');
    }
  });

  test('a refusal is kept too; a streamed import is replayed whole', async ({ api, tenant }) => {
    const missing = await api.post(
      '/api/subscriptions/sub_0123456789abcdef0123456789abcdef/replay',
      { since: new Date().toISOString() },
      withKey('r1', tenant.keys.locAStaff),
    );
    expect(missing.status).toBe(404);
    const again = await api.post(
      '/api/subscriptions/sub_0123456789abcdef0123456789abcdef/replay',
      { since: new Date(0).toISOString() },
      withKey('r1', tenant.keys.locAStaff),
    );
    expect(again.status).toBe(422);

    const importUrl = `/api/locations/${tenant.locA}/contacts/import`;
    const ndjson = {
      ...withKey('imp', tenant.keys.locAStaff),
      headers: { 'idempotency-key': 'imp', accept: 'application/x-ndjson' },
    };
    const body = { contacts: [{ firstName: 'Ada' }, { firstName: 'Bo' }] };
    const first = await api.call('POST', importUrl, { ...ndjson, body });
    expect(first.status).toBe(200);
    expect(String(first.body)).toContain('"summary"');
    const second = await api.call('POST', importUrl, { ...ndjson, body });
    expect(second.body).toEqual(first.body);
    expect(second.headers['content-type']).toContain('application/x-ndjson');
    expect(await count(api, 'contacts')).toBe(2);
  });

  test('answers are kept 24 hours, then purged', async ({ api, tenant }) => {
    const url = `/api/locations/${tenant.locA}/contacts`;
    expect((await api.post(url, { firstName: 'Ada' }, withKey('day', tenant.keys.locAStaff))).status).toBe(
      201,
    );
    await api.db.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`);
    // past its 24 hours a key is new again
    const later = await api.post(url, { firstName: 'Ada' }, withKey('day', tenant.keys.locAStaff));
    expect(later.status).toBe(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(await count(api, 'contacts')).toBe(2);
    await api.db.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`);
    expect(await purgeIdempotencyKeys(api.db, 100)).toBe(1);
    expect(await count(api, 'idempotency_keys')).toBe(0);
  });
});
