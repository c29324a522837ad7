import { describe, expect } from 'vitest';
import { EXPENSIVE_ROUTES } from '../../src/api/rate-limit.js';
import type { Config, RateLimitSettings } from '../../src/config.js';
import {
  OPERATOR_KEY,
  apiTest,
  createTenant,
  createTestApi,
  testConfig,
  type Tenant,
  type TestApi,
} from '../helpers/api.js';
import { deliverySettings } from '../helpers/delivery.js';

/**
 * `apiTest` with these rate limits; local endpoints allowed. The tenant is set up through another,
 * unlimited process (`setup`) on the same store, since the operator key is limited too.
 */
const withLimits = (rateLimits: RateLimitSettings) =>
  apiTest.extend<{ setup: TestApi; apiConfig: Config; tenant: Tenant }>({
    setup: async ({ db }, use) => {
      const setup = createTestApi(db, testConfig({ delivery: deliverySettings() }));
      try {
        await use(setup);
      } finally {
        await setup.app.close();
      }
    },
    // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
    apiConfig: async ({}, use) => {
      await use(testConfig({ delivery: deliverySettings(), rateLimits }));
    },
    tenant: async ({ setup }, use) => {
      await use(await createTenant(setup));
    },
  });

// one request a second per key (bursts of two), two expensive actions a minute, three failed
// authentications a minute per address
const test = withLimits({ perSecond: 1, expensivePerMinute: 2, authFailuresPerMinute: 3 });
// the expensive bucket alone (the per-key limit off, as FPT_RATE_LIMIT_PER_SECOND=0 turns it off)
const expensiveTest = withLimits({ perSecond: 0, expensivePerMinute: 2, authFailuresPerMinute: 3 });

/** GETs `url` with `key` until the first 429 (a request would have to take a second for none to come). */
async function untilLimited(api: TestApi, url: string, key: string) {
  const statuses: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const res = await api.get(url, { key });
    statuses.push(res.status);
    if (res.status === 429) return { statuses, limited: res };
  }
  throw new Error(`no 429 in 1000 requests: ${statuses.join(',')}`);
}

/** A request from another client address than the tests' usual 127.0.0.1. */
const fromAddress = (api: TestApi, remoteAddress: string, key: string) =>
  api.app.inject({
    method: 'GET',
    url: '/api/me',
    remoteAddress,
    headers: { authorization: `Bearer ${key}` },
  });

describe('rate limits', () => {
  test('per key: the burst goes through, then 429 with Retry-After and the draft RateLimit headers', async ({
    api,
    tenant,
  }) => {
    const first = await api.get('/api/me', { key: tenant.keys.orgStaff });
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('"api";q=2;w=2');
    expect(first.headers['ratelimit']).toMatch(/^"api";r=1;t=\d+$/);

    const { statuses, limited } = await untilLimited(api, '/api/me', tenant.keys.orgStaff);
    // the burst was two: the first above and at least the next went through, then only refills
    expect(statuses[0]).toBe(200);
    expect(statuses.slice(0, -1).every((s) => s === 200)).toBe(true);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.headers['ratelimit-policy']).toBe('"api";q=2;w=2');
    expect(limited.headers['ratelimit']).toMatch(/^"api";r=0;t=[12]$/);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited' });
    expect(limited.body.error.message).toContain('"api"');

    // another key has its own bucket
    expect((await api.get('/api/me', { key: tenant.keys.orgPartner })).status).toBe(200);
  });

  expensiveTest(
    'expensive actions have a much smaller bucket per key; a refused one changes nothing',
    async ({ api, tenant }) => {
      const key = tenant.keys.locAStaff;
      const sub = await api.create('/api/subscriptions', { url: 'http://127.0.0.1:9999/hooks' }, key);
      const rotate = () => api.post(`/api/subscriptions/${sub.id}/rotate-secret`, undefined, { key });
      expect((await rotate()).status).toBe(200);
      const importOne = (name: string) =>
        api.post(
          `/api/locations/${tenant.locA}/contacts/import`,
          { contacts: [{ firstName: name }] },
          { key },
        );
      expect((await importOne('Ada')).status).toBe(200);
      const refused = await importOne('Bo');
      expect(refused.status).toBe(429);
      // one token every 30 s
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(30);
      expect(refused.headers['ratelimit-policy']).toBe('"expensive";q=2;w=60');
      expect(refused.headers['ratelimit']).toMatch(/^"expensive";r=0;t=\d+$/);
      expect(refused.body.error.message).toContain('"expensive"');
      expect((await rotate()).status).toBe(429);
      const { rows } = await api.db.query<{ name: string }>('SELECT first_name AS name FROM contacts');
      expect(rows.map((r) => r.name)).toEqual(['Ada']);
      // other requests of the key go on; another key has its own bucket, and so has the operator
      expect((await api.get(`/api/subscriptions/${sub.id}`, { key })).status).toBe(200);
      expect(
        (
          await api.post(`/api/subscriptions/${sub.id}/rotate-secret`, undefined, {
            key: tenant.keys.orgStaff,
          })
        ).status,
      ).toBe(200);
      const byOperator = [];
      for (let i = 0; i < 3; i++)
        byOperator.push((await api.post(`/api/subscriptions/${sub.id}/rotate-secret`)).status);
      expect(byOperator).toEqual([200, 200, 429]);
    },
  );

  test('the operator key is limited as a key; each session the operator opened has a bucket of its own', async ({
    api,
    setup,
    tenant,
  }) => {
    const appId = (await setup.get('/api/me', { key: tenant.keys.locAPartner })).body.appId as string;
    const session = async (body: object) => {
      const link = await setup.post('/api/portal-links', body);
      const token = (link.body.url as string).split('#/link/')[1];
      return (await setup.post('/api/portal-sessions', { token }, { key: null })).body.sessionToken as string;
    };
    const appSession = await session({ appId, locationId: tenant.locA });
    const ownSession = await session({});

    const operator = await untilLimited(api, '/api/me', OPERATOR_KEY);
    expect(operator.statuses[0]).toBe(200);
    expect(operator.limited.body.error.message).toContain('"api"');
    expect(operator.limited.headers['retry-after']).toBe('1');
    // a session the operator handed out does not empty the operator's bucket, nor another session's
    const app = await untilLimited(api, '/api/me', appSession);
    expect(app.statuses[0]).toBe(200);
    expect(app.limited.headers['ratelimit-policy']).toBe('"api";q=2;w=2');
    expect((await api.get('/api/me', { key: ownSession })).status).toBe(200);
  });

  test('failed authentications are limited per client address, before any key is checked', async ({
    api,
    tenant,
  }) => {
    for (let i = 0; i < 3; i++) {
      expect((await api.get('/api/me', { key: `fpt_staff_wrong${i}` })).status).toBe(401);
    }
    const blocked = await api.get('/api/me', { key: 'fpt_staff_wrong' });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.message).toContain('"auth-failures"');
    // (one failure back every 20 s)
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(20);
    expect(blocked.headers['ratelimit-policy']).toBe('"auth-failures";q=3;w=60');
    expect(blocked.headers['ratelimit']).toMatch(/^"auth-failures";r=0;t=\d+$/);
    // a valid key from that address waits too: guessing cannot go on with a good key mixed in
    expect((await api.get('/api/me', { key: tenant.keys.orgStaff })).status).toBe(429);
    // another address is not affected
    expect((await fromAddress(api, '10.0.0.7', tenant.keys.orgStaff)).statusCode).toBe(200);
    // health probes are never limited
    expect((await api.get('/healthz', { key: null })).status).toBe(200);
  });

  test('the expensive routes named are routes of the API', async ({ api }) => {
    await api.app.ready(); // (the routes are registered as the app gets ready)
    for (const r of EXPENSIVE_ROUTES) {
      const [method, path] = r.split(' ') as [string, string];
      expect(api.app.hasRoute({ method: method, url: path }), r).toBe(true);
    }
  });
});
