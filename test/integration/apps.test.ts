import { describe, expect, test } from 'vitest';
import { migrate, loadMigrations } from '../../src/store/migrate.js';
import { apiTest, type TestApi, type Tenant } from '../helpers/api.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

// Partner apps own their subscriptions (docs/api.md, "Partner apps and ownership").

const URL_A = 'https://crm.example.com/hooks';
const URL_B = 'https://mailer.example.com/hooks';

async function partnerKey(api: TestApi, scope: object, appId?: string): Promise<string> {
  const res = await api.post('/api/api-keys', { role: 'partner', ...scope, ...(appId ? { appId } : {}) });
  expect(res.status).toBe(201);
  return res.body.key as string;
}

async function subscribe(api: TestApi, key: string, body: object = {}): Promise<{ id: string }> {
  const res = await api.post('/api/subscriptions', { url: URL_A, ...body }, { key });
  if (res.status !== 201) throw new Error(`subscribe → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string };
}

/** Two partner companies at location A, and a subscription of each, of the gym, and a test delivery of A's. */
async function twoPartners(api: TestApi, tenant: Tenant) {
  const appA = (await api.create('/api/apps', { name: 'CRM Co' })).id as string;
  const keyA = await partnerKey(api, { locationId: tenant.locA }, appA);
  const keyA2 = await partnerKey(api, { organizationId: tenant.orgId }, appA);
  const keyB = await partnerKey(api, { locationId: tenant.locA });
  const subA = await subscribe(api, keyA);
  const subB = await subscribe(api, keyB, { url: URL_B });
  const subGym = await subscribe(api, tenant.keys.locAStaff);
  const test = await api.post(`/api/subscriptions/${subA.id}/test`, undefined, { key: keyA });
  expect(test.status).toBe(202);
  return { appA, keyA, keyA2, keyB, subA, subB, subGym, deliveryA: test.body.deliveryId as string };
}

/** Every subscription route, as [method, path, body]: what a key that may not see it gets 404 on. */
const routesOf = (subId: string, deliveryId: string): [string, string, unknown][] => [
  ['GET', `/api/subscriptions/${subId}`, undefined],
  ['PATCH', `/api/subscriptions/${subId}`, { url: 'https://attacker.example/steal' }],
  ['PATCH', `/api/subscriptions/${subId}`, { status: 'paused' }],
  ['POST', `/api/subscriptions/${subId}/rotate-secret`, { overlapHours: 0 }],
  ['POST', `/api/subscriptions/${subId}/test`, undefined],
  ['GET', `/api/subscriptions/${subId}/deliveries`, undefined],
  ['POST', `/api/subscriptions/${subId}/replay`, { since: '2020-01-01T00:00:00Z' }],
  ['GET', `/api/deliveries/${deliveryId}`, undefined],
  ['POST', `/api/deliveries/${deliveryId}/retry`, undefined],
  ['DELETE', `/api/subscriptions/${subId}`, undefined],
];

describe('partner apps', () => {
  apiTest('the operator creates, lists, reads and renames apps; keys cannot', async ({ api, tenant }) => {
    const created = await api.post('/api/apps', { name: ' CRM Co ', description: 'Sync to CRM' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^app_[0-9a-f]{32}$/), name: 'CRM Co' });
    const id = created.body.id as string;
    const patched = await api.patch(`/api/apps/${id}`, { name: 'CRM Company', description: null });
    expect(patched.body).toMatchObject({ id, name: 'CRM Company', description: null });
    expect((await api.get(`/api/apps/${id}`)).body.name).toBe('CRM Company');
    expect((await api.get('/api/apps')).body.data.map((a: { id: string }) => a.id)).toContain(id);
    expect((await api.post('/api/apps', { name: 'x' }, { key: tenant.keys.orgStaff })).status).toBe(403);
    expect((await api.patch(`/api/apps/${id}`, { name: 'x' }, { key: tenant.keys.orgPartner })).status).toBe(
      403,
    );
    expect((await api.patch('/api/apps/app_00000000000000000000000000000000', { name: 'x' })).status).toBe(
      404,
    );
    expect((await api.post('/api/apps', { name: '   ' })).status).toBe(400);
  });

  apiTest('a partner key belongs to one app: its own unless appId is given', async ({ api, tenant }) => {
    const app = (await api.create('/api/apps', { name: 'CRM Co' })).id as string;
    const withApp = await api.create('/api/api-keys', {
      role: 'partner',
      locationId: tenant.locA,
      appId: app,
    });
    const sameApp = await api.create('/api/api-keys', {
      role: 'partner',
      locationId: tenant.locB,
      appId: app,
    });
    const own1 = await api.create('/api/api-keys', { role: 'partner', locationId: tenant.locA });
    const own2 = await api.create('/api/api-keys', {
      role: 'partner',
      locationId: tenant.locA,
      description: 'Mailer',
    });
    expect(withApp.appId).toBe(app);
    expect(sameApp.appId).toBe(app);
    expect(new Set([own1.appId, own2.appId, app]).size).toBe(3);
    // the app made for a key is named after it, and the key reads it
    expect((await api.get(`/api/apps/${own2.appId}`, { key: own2.key })).body.name).toBe('Mailer');
    expect((await api.get(`/api/apps/${own1.appId}`, { key: own2.key })).status).toBe(404);
    expect(
      (await api.get('/api/apps', { key: own2.key })).body.data.map((a: { id: string }) => a.id),
    ).toEqual([own2.appId]);
    expect((await api.get('/api/me', { key: withApp.key })).body.appId).toBe(app);
    expect((await api.get(`/api/api-keys?appId=${app}`)).body.data.map((k: { id: number }) => k.id)).toEqual([
      withApp.id,
      sameApp.id,
    ]);
    const staff = await api.post('/api/api-keys', { role: 'staff', locationId: tenant.locA, appId: app });
    expect(staff.status).toBe(400);
    expect(staff.body.error.field).toBe('appId');
    const missing = await api.post('/api/api-keys', {
      role: 'partner',
      locationId: tenant.locA,
      appId: 'app_00000000000000000000000000000000',
    });
    expect(missing.status).toBe(422);
    expect(missing.body.error.field).toBe('appId');
    // staff see the apps that deal with their scope: those with a key or a subscription there
    const staffApps = (await api.get('/api/apps', { key: tenant.keys.locAStaff })).body.data.map(
      (a: { id: string }) => a.id,
    );
    expect(staffApps).toEqual(expect.arrayContaining([app, own1.appId, own2.appId]));
    expect((await api.get('/api/apps', { key: tenant.keys.otherStaff })).body.data).toEqual([]);
  });

  apiTest(
    'an app made for a partner key is audited as one made by hand, with the key, in one transaction',
    async ({ api, db, tenant }) => {
      const byHand = (await api.create('/api/apps', { name: 'CRM Co' })).id as string;
      const own = await api.create('/api/api-keys', {
        role: 'partner',
        locationId: tenant.locA,
        description: 'Mailer',
      });
      // the entries as stored, in the order they were numbered
      const { rows } = await db.query<{ action: string; target_id: string; actor_type: string }>(
        `SELECT action, target_id, actor_type, details FROM audit_log
         WHERE target_id IN ($1, $2, $3) ORDER BY seq`,
        [byHand, own.appId, String(own.id)],
      );
      expect(rows).toMatchObject([
        { action: 'app.created', target_id: byHand, actor_type: 'operator', details: { name: 'CRM Co' } },
        { action: 'app.created', target_id: own.appId, actor_type: 'operator', details: { name: 'Mailer' } },
        { action: 'api_key.created', target_id: String(own.id), details: { appId: own.appId } },
      ]);
    },
  );
});

describe('subscription ownership', () => {
  apiTest(
    'a partner sees and manages only its app’s subscriptions, at every route',
    async ({ api, tenant }) => {
      const t = await twoPartners(api, tenant);
      // another partner at the same location: every route answers as if they did not exist
      for (const sub of [t.subA, t.subGym]) {
        for (const [method, path, body] of routesOf(sub.id, t.deliveryA)) {
          const res = await api.call(method, path, { key: t.keyB, ...(body !== undefined ? { body } : {}) });
          expect(res.status, `${method} ${path} with another app's key`).toBe(404);
        }
      }
      const listB = (await api.get('/api/subscriptions', { key: t.keyB })).body.data;
      expect(listB.map((s: { id: string }) => s.id)).toEqual([t.subB.id]);
      // nothing changed
      const a = (await api.get(`/api/subscriptions/${t.subA.id}`)).body;
      expect(a).toMatchObject({ url: URL_A, status: 'active', appId: t.appA, previousSecretExpiresAt: null });
      // every key of the app sees them, within its own scope
      const listA2 = (await api.get('/api/subscriptions', { key: t.keyA2 })).body.data;
      expect(listA2.map((s: { id: string }) => s.id)).toEqual([t.subA.id]);
      expect((await api.get(`/api/deliveries/${t.deliveryA}`, { key: t.keyA2 })).status).toBe(200);
      for (const [method, path, body] of routesOf(t.subA.id, t.deliveryA)) {
        const res = await api.call(method, path, { key: t.keyA2, ...(body !== undefined ? { body } : {}) });
        expect(res.status, `${method} ${path} with the app's other key`).toBeLessThan(300);
      }
    },
  );

  apiTest(
    'staff see every subscription in scope, and may pause, resume or disable an app’s, no more',
    async ({ api, tenant }) => {
      const t = await twoPartners(api, tenant);
      const staff = tenant.keys.locAStaff;
      const list = (await api.get('/api/subscriptions', { key: staff })).body.data;
      expect(list.map((s: { id: string; appId: string | null }) => [s.id, s.appId])).toEqual([
        [t.subA.id, t.appA],
        [t.subB.id, expect.stringMatching(/^app_/)],
        [t.subGym.id, null],
      ]);
      for (const [method, path, body] of routesOf(t.subA.id, t.deliveryA)) {
        const res = await api.call(method, path, { key: staff, ...(body !== undefined ? { body } : {}) });
        const reads = method === 'GET' || (body as { status?: string } | undefined)?.status !== undefined;
        expect(res.status, `${method} ${path} with a staff key`).toBe(reads ? 200 : 403);
      }
      // the gym cuts the partner off; the partner cannot turn it back on, the gym can
      const off = await api.patch(`/api/subscriptions/${t.subA.id}`, { status: 'disabled' }, { key: staff });
      expect(off.body).toMatchObject({ status: 'disabled', disabledBy: 'gym' });
      for (const status of ['active', 'paused']) {
        const back = await api.patch(`/api/subscriptions/${t.subA.id}`, { status }, { key: t.keyA });
        expect(back.status).toBe(403);
      }
      // its app may still read it and change what is its own
      expect(
        (await api.patch(`/api/subscriptions/${t.subA.id}`, { url: URL_B }, { key: t.keyA })).status,
      ).toBe(200);
      const on = await api.patch(`/api/subscriptions/${t.subA.id}`, { status: 'active' }, { key: staff });
      expect(on.body).toMatchObject({ status: 'active', disabledBy: null, disabledReason: null });
      // what the app itself paused or disabled, or its failures disabled, it may resume
      for (const status of ['paused', 'disabled', 'active']) {
        expect((await api.patch(`/api/subscriptions/${t.subA.id}`, { status }, { key: t.keyA })).status).toBe(
          200,
        );
      }
      await api.db.query(
        `UPDATE subscriptions SET status = 'disabled', disabled_reason = 'endpoint answered 410' WHERE id = $1`,
        [t.subA.id],
      );
      expect(
        (await api.patch(`/api/subscriptions/${t.subA.id}`, { status: 'active' }, { key: t.keyA })).status,
      ).toBe(200);
      // the gym's own subscription: staff manage all of it
      for (const [method, path, body] of routesOf(t.subGym.id, t.deliveryA).slice(0, 7)) {
        const res = await api.call(method, path, { key: staff, ...(body !== undefined ? { body } : {}) });
        expect(res.status, `${method} ${path} on the gym's own`).toBeLessThan(300);
      }
    },
  );

  apiTest('subscriptions list by app; the operator chooses and moves owners', async ({ api, tenant }) => {
    const t = await twoPartners(api, tenant);
    const ids = async (query: string, key?: string) =>
      (await api.get(`/api/subscriptions${query}`, { key })).body.data.map((s: { id: string }) => s.id);
    expect(await ids(`?appId=${t.appA}`)).toEqual([t.subA.id]);
    expect(await ids('?appId=none')).toEqual([t.subGym.id]);
    expect(await ids(`?appId=${t.appA}`, tenant.keys.locAStaff)).toEqual([t.subA.id]);
    expect(await ids(`?appId=${t.appA}`, t.keyB)).toEqual([]);
    expect((await api.get('/api/subscriptions?appId=bogus')).status).toBe(400);
    // the operator creates one for an app, or moves one
    const forA = await api.post('/api/subscriptions', { url: URL_A, locationId: tenant.locA, appId: t.appA });
    expect(forA.body.appId).toBe(t.appA);
    expect(await ids('', t.keyA)).toEqual([t.subA.id, forA.body.id]);
    const moved = await api.patch(`/api/subscriptions/${t.subGym.id}`, { appId: t.appA });
    expect(moved.body.appId).toBe(t.appA);
    expect((await api.get(`/api/subscriptions/${t.subGym.id}`, { key: t.keyA })).status).toBe(200);
    const unknownApp = await api.patch(`/api/subscriptions/${t.subGym.id}`, {
      appId: 'app_00000000000000000000000000000000',
    });
    expect(unknownApp.status).toBe(404);
    expect(unknownApp.body.error.field).toBe('appId');
    // keys cannot choose an owner other than their own
    const byPartner = await api.post('/api/subscriptions', { url: URL_A, appId: t.appA }, { key: t.keyB });
    expect(byPartner.status).toBe(403);
    expect(
      (await api.post('/api/subscriptions', { url: URL_A, appId: t.appA }, { key: t.keyA })).status,
    ).toBe(201);
    expect(
      (await api.patch(`/api/subscriptions/${t.subA.id}`, { appId: null }, { key: tenant.keys.locAStaff }))
        .status,
    ).toBe(403);
    expect((await api.get(`/api/subscriptions/${t.subA.id}`)).body.appId).toBe(t.appA);
  });

  apiTest(
    'the operator subscribes only for an organization or location that exists',
    async ({ api, tenant }) => {
      const org = await api.post('/api/subscriptions', { url: URL_A, organizationId: 999 });
      expect(org.status).toBe(404);
      expect(org.body.error.field).toBe('organizationId');
      const loc = await api.post('/api/subscriptions', { url: URL_A, locationId: 999 });
      expect(loc.status).toBe(404);
      expect(loc.body.error.field).toBe('locationId');
      const ok = await api.post('/api/subscriptions', { url: URL_A, organizationId: tenant.orgId });
      expect(ok.status).toBe(201);
      expect(ok.body.appId).toBeNull();
      expect((await api.db.query('SELECT count(*)::int AS n FROM subscriptions')).rows[0]).toEqual({ n: 1 });
    },
  );
});

describe('the migration to partner apps', () => {
  // a schema of its own, migrated step by step
  const unmigratedTest = test.extend<{ testDb: TestDb }>({
    // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
    testDb: async ({}, use) => {
      const t = await createTestDb({ migrate: false });
      try {
        await use(t);
      } finally {
        await t.drop();
      }
    },
  });

  unmigratedTest(
    'gives every partner key an app, and each subscription to the one key that could have made it',
    async ({ testDb: { db } }) => {
      // a database as it was before apps (migrations up to 006), with keys and subscriptions in it
      await migrate(
        db,
        loadMigrations().filter((m) => m.version < 7),
      );
      const one = async (sql: string, params: unknown[] = []) =>
        (await db.query<{ id: number }>(`${sql} RETURNING id`, params)).rows[0]!.id;
      const org = await one(`INSERT INTO organizations (name) VALUES ('Iron Temple')`);
      const locA = await one(`INSERT INTO locations (name, organization_id) VALUES ('A', $1)`, [org]);
      const locB = await one(`INSERT INTO locations (name, organization_id) VALUES ('B', $1)`, [org]);
      const key = (
        role: string,
        orgId: number | null,
        locId: number | null,
        description: string | null,
        at: string,
      ) =>
        one(
          `INSERT INTO api_keys (key_hash, key_prefix, role, organization_id, location_id, description, created_at)
         VALUES (md5(random()::text), 'fpt_partner_abcd', $1, $2, $3, $4, $5)`,
          [role, orgId, locId, description, at],
        );
      const staffA = await key('staff', null, locA, null, '2026-01-01T00:00:00Z');
      const partnerA = await key('partner', null, locA, 'CRM', '2026-01-01T00:00:00Z');
      const partnerB1 = await key('partner', null, locB, null, '2026-01-01T00:00:00Z');
      const partnerB2 = await key('partner', null, locB, null, '2026-03-01T00:00:00Z');
      const partnerOrg = await key('partner', org, null, null, '2026-05-01T00:00:00Z');
      const sub = async (id: string, orgId: number, locId: number | null, at: string) => {
        await db.query(
          `INSERT INTO subscriptions (id, organization_id, location_id, url, secret, created_at)
         VALUES ($1, $2, $3, 'https://x.example/h', 'whsec_x', $4)`,
          [id, orgId, locId, at],
        );
      };
      await sub('sub_a', org, locA, '2026-02-01T00:00:00Z'); // only partnerA could have made it
      await sub('sub_b_early', org, locB, '2026-02-01T00:00:00Z'); // only partnerB1 existed then
      await sub('sub_b_late', org, locB, '2026-04-01T00:00:00Z'); // B1 or B2: stays the gym's
      await sub('sub_a_late', org, locA, '2026-06-01T00:00:00Z'); // partnerA or partnerOrg: the gym's
      await sub('sub_org', org, null, '2026-06-01T00:00:00Z'); // only partnerOrg

      expect(await migrate(db)).toContain('007_partner_apps');

      const keys = new Map(
        (
          await db.query<{ id: number; app_id: string | null; name: string | null }>(
            'SELECT k.id, k.app_id, a.name FROM api_keys k LEFT JOIN apps a ON a.id = k.app_id ORDER BY k.id',
          )
        ).rows.map((r) => [r.id, r]),
      );
      expect(keys.get(staffA)!.app_id).toBeNull();
      const partners = [partnerA, partnerB1, partnerB2, partnerOrg].map((id) => keys.get(id)!);
      expect(new Set(partners.map((k) => k.app_id)).size).toBe(4);
      expect(partners.every((k) => /^app_[0-9a-f]{32}$/.test(k.app_id ?? ''))).toBe(true);
      expect(keys.get(partnerA)!.name).toBe('CRM');
      expect(keys.get(partnerB1)!.name).toBe('Partner key fpt_partner_abcd');
      const owners = Object.fromEntries(
        (
          await db.query<{ id: string; app_id: string | null; created_by_key_id: number | null }>(
            'SELECT id, app_id, created_by_key_id FROM subscriptions',
          )
        ).rows.map((r) => [r.id, [r.app_id, r.created_by_key_id]]),
      );
      expect(owners).toEqual({
        sub_a: [keys.get(partnerA)!.app_id, partnerA],
        sub_b_early: [keys.get(partnerB1)!.app_id, partnerB1],
        sub_b_late: [null, null],
        sub_a_late: [null, null],
        sub_org: [keys.get(partnerOrg)!.app_id, partnerOrg],
      });
      // every row is still there
      expect((await db.query('SELECT count(*)::int AS n FROM api_keys')).rows[0]).toEqual({ n: 5 });
    },
  );
});
