import { describe, expect } from 'vitest';
import { apiTest as test } from '../helpers/api.js';

// Found by the security review (#14): authentication was chosen by the raw URL's prefix while the
// router decodes the path, so `/%61pi/contacts/1` ran the handler with no principal.
describe('authentication on the matched route', () => {
  test('an encoded path to an API route needs a key like the plain one', async ({ api, tenant }) => {
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    for (const url of [
      `/%61pi/contacts/${contactId}`,
      '/%61pi/contacts/999999',
      '/%61pi/event-types',
      '/%61%70%69/organizations',
      `/api/contacts/%3${String(contactId).slice(0, 1)}${String(contactId).slice(1)}`,
    ]) {
      const res = await api.get(url, { key: null });
      expect(res.status, url).toBe(401);
      expect(res.body.error.code, url).toBe('unauthorized');
    }
    // with a key, the decoded route is served as usual
    expect((await api.get(`/%61pi/contacts/${contactId}`)).status).toBe(200);
  });

  test('any /api request without a key is a 401, also where no route matches', async ({ api }) => {
    for (const [method, url] of [
      ['GET', '/api/no-such-thing'],
      ['POST', '/api/contacts'],
      ['GET', '/%61pi/nothing-here'],
      ['DELETE', '/api/organizations'],
      ['GET', '/api'],
    ] as const) {
      const res = await api.call(method, url, { key: null });
      expect(res.status, `${method} ${url}`).toBe(401);
    }
    // with a key, an unknown route is a plain 404
    expect((await api.get('/api/no-such-thing')).status).toBe(404);
  });

  test('public routes stay public', async ({ api }) => {
    expect((await api.get('/healthz', { key: null })).status).toBe(200);
    expect((await api.get('/readyz', { key: null })).status).toBe(200);
    expect((await api.get('/nowhere', { key: null })).status).toBe(404);
  });
});

describe('response hardening', () => {
  test('API answers are not cached or sniffed: successes, errors and 404s alike', async ({ api, tenant }) => {
    const key = await api.post('/api/api-keys', { role: 'staff', locationId: tenant.locA });
    const answers = [
      key,
      await api.get(`/api/locations/${tenant.locA}`),
      await api.get('/api/contacts/999999'),
      await api.get('/api/contacts/1', { key: null }),
      await api.get('/api/no-such-thing'),
      await api.post('/api/organizations', { name: 7 }),
      await api.get('/healthz', { key: null }),
    ];
    for (const res of answers) {
      expect(res.headers['cache-control'], String(res.status)).toBe('no-store');
      expect(res.headers['x-content-type-options'], String(res.status)).toBe('nosniff');
    }
  });
});
