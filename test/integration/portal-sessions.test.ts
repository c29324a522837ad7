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
    // a partner key's link keeps its own scope
    const scoped = await api.post(
      '/api/portal-links',
      { appId: own, locationId: tenant.locA },
      { key: tenant.keys.locAPartner },
    );
    expect([scoped.status, scoped.body.error.field]).toEqual([400, 'locationId']);
  });

  apiTest(
    "a staff key's link for a partner app opens what both allow: the app's subscriptions in the key's scope, read and paused",
    async ({ api, tenant }) => {
      const sub = async (key: string, body: object) =>
        (await api.create('/api/subscriptions', { url: 'https://x.example.com/h', ...body }, key))
          .id as string;
      const appA = (await api.get('/api/me', { key: tenant.keys.locAPartner })).body.appId as string;
      const appOrg = (await api.get('/api/me', { key: tenant.keys.orgPartner })).body.appId as string;
      const orgAtA = await sub(tenant.keys.orgPartner, { locationId: tenant.locA });
      await sub(tenant.keys.orgPartner, { locationId: tenant.locB });
      await sub(tenant.keys.locAPartner, {});
      await sub(tenant.keys.locAStaff, {});

      const session = (await open(api, await mint(api, tenant.keys.locAStaff, { appId: appOrg }))).body
        .sessionToken as string;
      const staffMe = (await api.get('/api/me', { key: tenant.keys.locAStaff })).body;
      const me = (await api.get('/api/me', { key: session })).body;
      expect(me).toMatchObject({
        kind: 'api_key',
        id: staffMe.id,
        role: 'partner',
        appId: appOrg,
        locationId: tenant.locA,
        limitedBy: 'staff',
      });
      expect(me.can).toMatchObject({ writeContacts: false, readContactTimelines: false, operate: false });
      // the app's subscriptions at the staff key's location only: not its other location's, not
      // another app's, not the gym's own
      const list = await api.get('/api/subscriptions', { key: session });
      expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([orgAtA]);
      // read, paused and resumed as the staff key may; changed or made only by the app's own keys
      const paused = await api.patch(`/api/subscriptions/${orgAtA}`, { status: 'paused' }, { key: session });
      expect(paused.status).toBe(200);
      const changed = await api.patch(
        `/api/subscriptions/${orgAtA}`,
        { url: 'https://evil.example.com/h' },
        { key: session },
      );
      expect(changed.status).toBe(403);
      expect((await api.post(`/api/subscriptions/${orgAtA}/test`, {}, { key: session })).status).toBe(403);
      const made = await api.post('/api/subscriptions', { url: 'https://x.example.com/n' }, { key: session });
      expect(made.status).toBe(403);
      // nothing the partner app's keys may not do either: contact writes, timelines, automations
      const contact = await api.post(`/api/locations/${tenant.locA}/contacts`, {}, { key: session });
      expect(contact.status).toBe(403);
      expect((await api.get(`/api/locations/${tenant.locA}/automations`, { key: session })).status).toBe(403);
      // outside the staff key's scope as before
      expect((await api.get(`/api/locations/${tenant.locB}/contacts`, { key: session })).status).toBe(404);

      // an app the staff key does not deal with (no key, no subscription in its scope) is 404
      const stranger = await api.create('/api/apps', { name: 'Stranger' });
      const refused = await api.post(
        '/api/portal-links',
        { appId: stranger.id },
        { key: tenant.keys.locAStaff },
      );
      expect([refused.status, refused.body.error.field]).toEqual([404, 'appId']);
      // and appA, which has a key at its location, is one it deals with
      expect(
        (await api.post('/api/portal-links', { appId: appA }, { key: tenant.keys.locAStaff })).status,
      ).toBe(201);
      // a staff key's link keeps the key's scope: it names none
      const scoped = await api.post(
        '/api/portal-links',
        { appId: appA, organizationId: tenant.orgId },
        { key: tenant.keys.locAStaff },
      );
      expect([scoped.status, scoped.body.error.field]).toEqual([400, 'organizationId']);
    },
  );

  apiTest(
    "the operator's link for a partner app names the scope it opens, and is the app's view there",
    async ({ api, db, tenant }) => {
      const appA = (await api.get('/api/me', { key: tenant.keys.locAPartner })).body.appId as string;
      const atA = (
        await api.create('/api/subscriptions', { url: 'https://a.example.com/h' }, tenant.keys.locAPartner)
      ).id as string;
      const atB = (
        await api.create('/api/subscriptions', {
          url: 'https://b.example.com/h',
          locationId: tenant.locB,
          appId: appA,
        })
      ).id as string;
      for (const [body, status, field] of [
        [{ appId: appA }, 400, 'organizationId'],
        [{ appId: appA, locationId: 99_999 }, 404, 'locationId'],
        [{ appId: appA, organizationId: 99_999 }, 404, 'organizationId'],
        [{ appId: appA, locationId: tenant.locA, organizationId: tenant.orgId }, 400, 'locationId'],
        [{ appId: `app_${'0'.repeat(32)}`, locationId: tenant.locA }, 404, 'appId'],
        [{ locationId: tenant.locA }, 400, 'locationId'],
      ] as const) {
        const res = await api.post('/api/portal-links', body);
        expect([res.status, res.body.error?.field], JSON.stringify(body)).toEqual([status, field]);
      }
      const session = (
        await open(api, await mint(api, OPERATOR_KEY, { appId: appA, locationId: tenant.locB }))
      ).body.sessionToken as string;
      const me = (await api.get('/api/me', { key: session })).body;
      expect(me).toMatchObject({
        kind: 'api_key',
        id: null,
        role: 'partner',
        appId: appA,
        locationId: tenant.locB,
        limitedBy: 'operator',
      });
      const list = await api.get('/api/subscriptions', { key: session });
      expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([atB]);
      expect((await api.get(`/api/subscriptions/${atA}`, { key: session })).status).toBe(404);
      // the app's rights there, which the operator has too: its subscription is changed
      const changed = await api.patch(
        `/api/subscriptions/${atB}`,
        { description: 'by the operator, as the app' },
        { key: session },
      );
      expect(changed.status).toBe(200);
      // audited as the operator's, naming the app (read from the store: the audit API holds back
      // entries while other tests' transactions on the server are running)
      const { rows } = await db.query<{
        action: string;
        actor_type: string;
        actor_id: number | null;
        details: { appId?: string };
      }>(
        `SELECT action, actor_type, actor_id, details FROM audit_log
         WHERE action IN ('subscription.updated', 'portal_link.created') ORDER BY seq`,
      );
      expect(rows.find((r) => r.action === 'subscription.updated')).toMatchObject({
        actor_type: 'operator',
        actor_id: null,
      });
      expect(rows.find((r) => r.action === 'portal_link.created')?.details).toMatchObject({ appId: appA });
    },
  );

  apiTest(
    "a staff key's session for a partner app may disable the app's subscription, but not enable it again: the app may not",
    async ({ api, tenant }) => {
      const appA = (await api.get('/api/me', { key: tenant.keys.locAPartner })).body.appId as string;
      const id = (
        await api.create('/api/subscriptions', { url: 'https://a.example.com/h' }, tenant.keys.locAPartner)
      ).id as string;
      const token = (await open(api, await mint(api, tenant.keys.locAStaff, { appId: appA }))).body
        .sessionToken as string;
      const set = (status: string, key: string) => api.patch(`/api/subscriptions/${id}`, { status }, { key });
      expect((await set('disabled', token)).body).toMatchObject({ status: 'disabled', disabledBy: 'gym' });
      expect((await set('active', token)).status).toBe(403);
      expect((await set('active', tenant.keys.locAPartner)).status).toBe(403);
      expect((await set('active', tenant.keys.locAStaff)).body).toMatchObject({ status: 'active' });
    },
  );

  apiTest(
    "a partner app's session is audited as its maker's, staff key or operator: its changes name the session, and its opening and signing out are recorded",
    async ({ api, db, tenant }) => {
      const appA = (await api.get('/api/me', { key: tenant.keys.locAPartner })).body.appId as string;
      const staffId = (await api.get('/api/me', { key: tenant.keys.locAStaff })).body.id as number;
      const sub = async () =>
        (await api.create('/api/subscriptions', { url: 'https://a.example.com/h' }, tenant.keys.locAPartner))
          .id as string;
      const [byStaff, byOperator] = [await sub(), await sub()];
      const session = async (key: string, body: object) => {
        const opened = (await open(api, await mint(api, key, body))).body;
        return { token: opened.sessionToken as string, id: opened.principal.session.id as string };
      };
      const staff = await session(tenant.keys.locAStaff, { appId: appA });
      const operator = await session(OPERATOR_KEY, { appId: appA, locationId: tenant.locA });
      for (const [id, s] of [
        [byStaff, staff],
        [byOperator, operator],
      ] as const) {
        const res = await api.patch(`/api/subscriptions/${id}`, { status: 'disabled' }, { key: s.token });
        expect(res.status).toBe(200);
        expect((await api.delete('/api/portal-sessions/current', { key: s.token })).status).toBe(204);
      }
      // signing out twice records nothing more (the session is gone: 401)
      expect((await api.delete('/api/portal-sessions/current', { key: staff.token })).status).toBe(401);

      const { rows } = await db.query<{
        action: string;
        actor_type: string;
        actor_id: number | null;
        target_id: string;
        location_id: number | null;
        details: Record<string, unknown>;
      }>(
        `SELECT action, actor_type, actor_id::int, target_id, location_id::int, details FROM audit_log
         WHERE action IN ('subscription.disabled', 'portal_session.opened', 'portal_session.ended')
         ORDER BY seq`,
      );
      const asStaff = { actor_type: 'api_key', actor_id: staffId, location_id: tenant.locA };
      const asOperator = { actor_type: 'operator', actor_id: null, location_id: tenant.locA };
      const via = (s: { id: string }, limitedBy: string) => ({
        portalSession: { id: s.id, appId: appA, limitedBy },
      });
      expect(rows).toMatchObject([
        { action: 'portal_session.opened', target_id: staff.id, ...asStaff, details: via(staff, 'staff') },
        {
          action: 'portal_session.opened',
          target_id: operator.id,
          ...asOperator,
          details: via(operator, 'operator'),
        },
        { action: 'subscription.disabled', target_id: byStaff, ...asStaff, details: via(staff, 'staff') },
        { action: 'portal_session.ended', target_id: staff.id, ...asStaff, details: via(staff, 'staff') },
        {
          action: 'subscription.disabled',
          target_id: byOperator,
          ...asOperator,
          details: via(operator, 'operator'),
        },
        {
          action: 'portal_session.ended',
          target_id: operator.id,
          ...asOperator,
          details: via(operator, 'operator'),
        },
      ]);
      expect(rows).toHaveLength(6);
    },
  );

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

  apiTest("the operator's link gives an operator session; minting is audited", async ({ api, db }) => {
    const session = (await open(api, await mint(api, OPERATOR_KEY))).body.sessionToken as string;
    const me = await api.get('/api/me', { key: session });
    expect(me.body).toMatchObject({ kind: 'operator', can: { operate: true, mintPortalLinks: false } });
    // read from the store: the audit API holds back entries while other transactions on the
    // server (other tests') are running
    const { rows } = await db.query<{ actor_type: string; target_type: string }>(
      `SELECT actor_type, target_type FROM audit_log WHERE action = 'portal_link.created'`,
    );
    expect(rows).toEqual([{ actor_type: 'operator', target_type: 'operator_key' }]);
  });
});
