import { describe, expect } from 'vitest';
import { OPERATOR_KEY, apiTest, type TestApi } from '../helpers/api.js';

// Portal links and sessions (docs/api.md, "Portal links and sessions").

const tokenOf = (url: string) => {
  const m = /\/portal\/#\/link\/(fpt_link_[A-Za-z0-9_-]+)$/.exec(url);
  if (!m) throw new Error(`not a portal link: ${url}`);
  return m[1]!;
};

async function mint(api: TestApi, key: string, body: object = {}): Promise<string> {
  const res = await api.post('/api/portal-links', body, { key });
  if (res.status !== 201) throw new Error(`mint → ${res.status} ${JSON.stringify(res.body)}`);
  return tokenOf(res.body.url as string);
}

async function open(api: TestApi, token: string) {
  return api.post('/api/portal-sessions', { token }, { key: null });
}

describe('portal links and sessions', () => {
  apiTest('a link opens once, for a session that is exactly its key', async ({ api, tenant }) => {
    const res = await api.post(
      '/api/portal-links',
      { expiresInMinutes: 30 },
      { key: tenant.keys.locAPartner },
    );
    expect(res.status).toBe(201);
    const minutesLeft = (Date.parse(res.body.expiresAt) - Date.now()) / 60_000;
    expect(minutesLeft).toBeGreaterThan(28);
    expect(minutesLeft).toBeLessThanOrEqual(30);
    const token = tokenOf(res.body.url);

    const opened = await open(api, token);
    expect(opened.status).toBe(201);
    const me = (await api.get('/api/me', { key: tenant.keys.locAPartner })).body;
    expect(opened.body.principal).toEqual({
      ...me,
      session: opened.body.principal.session,
      can: { ...me.can, mintPortalLinks: false },
    });
    expect(opened.body.principal.session.expiresAt).toBe(opened.body.expiresAt);
    expect(opened.body.sessionToken).toMatch(/^fpt_session_/);

    // the session is a bearer credential of the API, as its key
    const session = opened.body.sessionToken as string;
    const viaSession = await api.get('/api/me', { key: session });
    expect(viaSession.status).toBe(200);
    expect(viaSession.body).toMatchObject({ kind: 'api_key', role: 'partner', locationId: tenant.locA });
    expect(viaSession.body.can.mintPortalLinks).toBe(false);
    expect((await api.get('/api/subscriptions', { key: session })).status).toBe(200);

    // a second opening is refused, and says why
    const again = await open(api, token);
    expect(again.status).toBe(410);
    expect(again.body.error).toMatchObject({ code: 'link_used', field: 'token' });

    // a session cannot mint links (it would outlive itself)
    const fromSession = await api.post('/api/portal-links', {}, { key: session });
    expect(fromSession.status).toBe(403);
  });

  apiTest('only hashes of the tokens are stored', async ({ api, db, tenant }) => {
    const token = await mint(api, tenant.keys.orgStaff);
    const session = (await open(api, token)).body.sessionToken as string;
    const { rows } = await db.query<{ dump: string }>(
      `SELECT (SELECT string_agg(l::text, ' ') FROM portal_links l) || (SELECT string_agg(s::text, ' ') FROM portal_sessions s) AS dump`,
    );
    expect(rows[0]!.dump).not.toContain(token.slice(9));
    expect(rows[0]!.dump).not.toContain(session.slice(12));
  });

  apiTest(
    'an expired link is refused, and an expired session no longer works',
    async ({ api, db, tenant }) => {
      const token = await mint(api, tenant.keys.locAStaff);
      await db.query(`UPDATE portal_links SET expires_at = now() - interval '1 second'`);
      const late = await open(api, token);
      expect(late.status).toBe(410);
      expect(late.body.error.code).toBe('link_expired');

      const session = (await open(api, await mint(api, tenant.keys.locAStaff))).body.sessionToken as string;
      expect((await api.get('/api/me', { key: session })).status).toBe(200);
      await db.query(`UPDATE portal_sessions SET expires_at = now() - interval '1 second'`);
      const expired = await api.get('/api/me', { key: session });
      expect(expired.status).toBe(401);
      expect(expired.body.error.message).toMatch(/portal session/);
    },
  );

  apiTest('an unknown token is 401, and bad input names its field', async ({ api, tenant }) => {
    const unknown = await open(api, 'fpt_link_nothing');
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.field).toBe('token');
    const missing = await api.post('/api/portal-sessions', {}, { key: null });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/token/);
    for (const [body, field] of [
      [{ expiresInMinutes: 0 }, 'expiresInMinutes'],
      [{ expiresInMinutes: 7 * 24 * 60 + 1 }, 'expiresInMinutes'],
      [{ sessionMinutes: 12 * 60 + 1 }, 'sessionMinutes'],
      [{ appId: 'nope' }, 'appId'],
      [{ colour: 'red' }, 'colour'],
    ] as const) {
      const res = await api.post('/api/portal-links', body, { key: tenant.keys.locAPartner });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.body.error)).toContain(field);
    }
  });

  apiTest("a partner's link is for its own app: another app's id is 404", async ({ api, tenant }) => {
    const own = (await api.get('/api/me', { key: tenant.keys.locAPartner })).body.appId as string;
    const other = (await api.get('/api/me', { key: tenant.keys.orgPartner })).body.appId as string;
    expect(
      (await api.post('/api/portal-links', { appId: own }, { key: tenant.keys.locAPartner })).status,
    ).toBe(201);
    const res = await api.post('/api/portal-links', { appId: other }, { key: tenant.keys.locAPartner });
    expect(res.status).toBe(404);
    // staff and operator links open their own view: appId is refused, naming it
    const staff = await api.post('/api/portal-links', { appId: own }, { key: tenant.keys.orgStaff });
    expect(staff.status).toBe(400);
    expect(staff.body.error.field).toBe('appId');
  });

  apiTest("a partner's session sees its app's subscriptions only", async ({ api, tenant }) => {
    const mine = await api.post(
      '/api/subscriptions',
      { url: 'https://crm.example.com/hooks', locationId: tenant.locA },
      { key: tenant.keys.locAPartner },
    );
    const theirs = await api.post(
      '/api/subscriptions',
      { url: 'https://other.example.com/hooks', locationId: tenant.locA },
      { key: tenant.keys.orgPartner },
    );
    const session = (await open(api, await mint(api, tenant.keys.locAPartner))).body.sessionToken as string;
    const list = await api.get('/api/subscriptions', { key: session });
    expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([mine.body.id]);
    expect((await api.get(`/api/subscriptions/${theirs.body.id}`, { key: session })).status).toBe(404);
  });

  apiTest('revoking the key ends its sessions and its unopened links', async ({ api, tenant }) => {
    const key = await api.create('/api/api-keys', { role: 'staff', locationId: tenant.locA });
    const session = (await open(api, await mint(api, key.key))).body.sessionToken as string;
    const unopened = await mint(api, key.key);
    expect((await api.get('/api/me', { key: session })).status).toBe(200);
    expect((await api.delete(`/api/api-keys/${key.id}`)).status).toBe(200);
    expect((await api.get('/api/me', { key: session })).status).toBe(401);
    const res = await open(api, unopened);
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('link_revoked');
  });

  apiTest('signing out ends the session; an API key cannot sign out', async ({ api, tenant }) => {
    const session = (await open(api, await mint(api, tenant.keys.orgStaff))).body.sessionToken as string;
    expect((await api.delete('/api/portal-sessions/current', { key: session })).status).toBe(204);
    expect((await api.get('/api/me', { key: session })).status).toBe(401);
    const byKey = await api.delete('/api/portal-sessions/current', { key: tenant.keys.orgStaff });
    expect(byKey.status).toBe(400);
    expect(byKey.body.error).toMatchObject({ code: 'not_a_session', field: 'Authorization' });
  });

  apiTest("the operator's link gives an operator session; minting is audited", async ({ api }) => {
    const session = (await open(api, await mint(api, OPERATOR_KEY))).body.sessionToken as string;
    const me = await api.get('/api/me', { key: session });
    expect(me.body).toMatchObject({ kind: 'operator', can: { operate: true, mintPortalLinks: false } });
    const audit = await api.get('/api/audit-log');
    const minted = audit.body.data.filter((e: { action: string }) => e.action === 'portal_link.created');
    expect(minted).toHaveLength(1);
    expect(minted[0]).toMatchObject({ actor: { type: 'operator' }, target: { type: 'operator_key' } });
  });
});
