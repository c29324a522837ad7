import { describe, expect } from 'vitest';
import { apiTest, testConfig } from '../helpers/api.js';
import { deliverySettings } from '../helpers/delivery.js';
import { closeAllWindows } from '../helpers/events.js';

// two subscriptions an organization, replays of at most three deliveries; local endpoints allowed
const test = apiTest.extend({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  apiConfig: async ({}, use) => {
    const base = testConfig();
    await use(
      testConfig({
        delivery: deliverySettings(),
        quotas: { ...base.quotas, subscriptionsPerOrganization: 2, replayMaxDeliveries: 3 },
      }),
    );
  },
});

const count = async (db: { query: (sql: string) => Promise<{ rows: { n: number }[] }> }, table: string) =>
  (await db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

describe('quotas', () => {
  test('subscriptions per organization: past the quota, 409 naming the limit, and nothing written', async ({
    api,
    tenant,
  }) => {
    const sub = (url: string, scope: object, key?: string) =>
      api.post('/api/subscriptions', { url, ...scope }, { key });
    expect((await sub('http://127.0.0.1:9999/a', { locationId: tenant.locA })).status).toBe(201);
    // location- and organization-scoped subscriptions count alike
    expect((await sub('http://127.0.0.1:9999/b', { organizationId: tenant.orgId })).status).toBe(201);
    const audited = await count(api.db, 'audit_log');
    const over = await sub('http://127.0.0.1:9999/c', { locationId: tenant.locB }, tenant.keys.orgPartner);
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('quota_exceeded');
    expect(over.body.error.message).toContain('subscriptionsPerOrganization');
    expect(over.body.error.message).toContain('FPT_SUBSCRIPTIONS_PER_ORGANIZATION=2');
    expect(await count(api.db, 'subscriptions')).toBe(2);
    expect(await count(api.db, 'audit_log')).toBe(audited);
    // another organization has its own
    expect((await sub('http://127.0.0.1:9999/d', { locationId: tenant.otherLoc })).status).toBe(201);
    // a deleted one makes room
    const list = await api.get('/api/subscriptions', { key: tenant.keys.orgStaff });
    expect((await api.delete(`/api/subscriptions/${list.body.data[0].id}`)).status).toBe(204);
    expect((await sub('http://127.0.0.1:9999/e', { locationId: tenant.locB })).status).toBe(201);
  });

  test('concurrent creations cannot pass the quota together', async ({ api, tenant }) => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api.post('/api/subscriptions', { url: `http://127.0.0.1:9999/${i}`, locationId: tenant.locA }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 409, 409, 409, 409]);
    expect(await count(api.db, 'subscriptions')).toBe(2);
  });

  test('a replay that would queue more deliveries than the bound is refused, naming it', async ({
    api,
    tenant,
  }) => {
    const before = new Date(Date.now() - 60_000).toISOString();
    for (const name of ['A', 'B', 'C', 'D']) {
      await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: name });
    }
    await closeAllWindows(api.db);
    // subscribed after the events: each is a delivery a replay creates
    const sub = await api.create('/api/subscriptions', {
      url: 'http://127.0.0.1:9999/hooks',
      locationId: tenant.locA,
      eventTypes: ['contact.created'],
    });
    const replay = (since: string) => api.post(`/api/subscriptions/${sub.id}/replay`, { since });
    const deliveries = await count(api.db, 'deliveries');
    const over = await replay(before);
    expect(over.status).toBe(422);
    expect(over.body.error).toMatchObject({ code: 'quota_exceeded', field: 'since' });
    expect(over.body.error.message).toContain('replayMaxDeliveries');
    expect(over.body.error.message).toContain('FPT_REPLAY_MAX_DELIVERIES=3');
    expect(await count(api.db, 'deliveries')).toBe(deliveries);

    // three of them fit
    const { rows } = await api.db.query<{ at: Date }>(
      `SELECT event_timestamp AS at FROM events WHERE event_type = 'contact.created' ORDER BY seq OFFSET 1 LIMIT 1`,
    );
    const within = await replay(rows[0]!.at.toISOString());
    expect(within.status).toBe(202);
    expect(within.body).toMatchObject({ queued: 3, created: 3 });
  });
});
