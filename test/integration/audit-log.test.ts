import { describe, expect } from 'vitest';
import { insertAudit, purgeAudit } from '../../src/store/audit-log.js';
import { resetGeneratedAdminKey } from '../../src/store/settings.js';
import { apiTest, testConfig, type TestApi } from '../helpers/api.js';
import { deliverySettings, startDeliveryWorker } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import { Receiver } from '../helpers/receiver.js';

// local http:// endpoints allowed (FPT_ALLOW_PRIVATE_URLS=1)
const test = apiTest.extend({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  apiConfig: async ({}, use) => {
    await use(testConfig({ delivery: deliverySettings() }));
  },
});

/** Every audit entry the key reads, following the cursor two at a time (the paging under test). */
async function auditLog(api: TestApi, key?: string, query = '') {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON off the wire, asserted on below
  const all: any[] = [];
  let cursor = '0';
  // entries of transactions still running anywhere on the server are held back (as events are)
  for (;;) {
    const res = await api.get(`/api/audit-log?limit=2&after=${cursor}${query}`, { key });
    if (res.status !== 200) throw new Error(`GET /api/audit-log → ${res.status} ${JSON.stringify(res.body)}`);
    all.push(...res.body.data);
    if (res.body.nextCursor === cursor) return all;
    cursor = res.body.nextCursor;
  }
}

const actions = (entries: { action: string }[]) => entries.map((e) => e.action);

describe('audit log', () => {
  test('every security-relevant action is recorded: who, what, target, when, from where', async ({
    api,
    tenant,
  }) => {
    const key = await api.create('/api/api-keys', { role: 'partner', locationId: tenant.locA });
    const sub = await api.create(
      '/api/subscriptions',
      { url: 'http://127.0.0.1:9999/a', locationId: tenant.locA },
      key.key,
    );
    const path = `/api/subscriptions/${sub.id}`;
    expect((await api.patch(path, { url: 'http://127.0.0.1:9999/b' }, { key: key.key })).status).toBe(200);
    expect((await api.patch(path, { status: 'paused' }, { key: key.key })).status).toBe(200);
    expect((await api.patch(path, { status: 'active' }, { key: key.key })).status).toBe(200);
    expect((await api.post(`${path}/rotate-secret`, undefined, { key: key.key })).status).toBe(200);
    const since = new Date(Date.now() - 3_600_000).toISOString();
    expect((await api.post(`${path}/replay`, { since }, { key: key.key })).status).toBe(202);
    expect((await api.delete(path, { key: key.key })).status).toBe(204);
    const rule = await api.create(
      `/api/locations/${tenant.locA}/automations`,
      {
        name: 'Trial ended',
        trigger: { type: 'time', field: 'trialEndsAt' },
        conditions: [{ field: 'contactGroupId', op: 'eq', value: 2 }],
        action: { set: { contactGroupId: 4 } },
      },
      tenant.keys.locAStaff,
    );
    const rulePath = `/api/locations/${tenant.locA}/automations/${rule.ruleId}`;
    expect((await api.patch(rulePath, { enabled: false }, { key: tenant.keys.locAStaff })).status).toBe(200);
    expect((await api.delete(rulePath, { key: tenant.keys.locAStaff })).status).toBe(204);
    const imported = await api.post(
      `/api/locations/${tenant.locA}/contacts/import`,
      { contacts: [{ firstName: 'Ada' }, { firstName: 'Bo' }] },
      { key: tenant.keys.locAStaff },
    );
    expect(imported.status).toBe(200);
    expect((await api.delete(`/api/api-keys/${key.id}`)).status).toBe(200);

    const mine = (await auditLog(api)).filter((e) => e.action !== 'organization.created');
    expect(actions(mine)).toEqual([
      // the tenant fixture's own creations first
      'location.created',
      'location.created',
      'location.created',
      'location.created',
      // (a partner key without an app gets one of its own, made in the same transaction)
      'api_key.created',
      'app.created',
      'api_key.created',
      'api_key.created',
      'app.created',
      'api_key.created',
      'api_key.created',
      'app.created',
      'api_key.created',
      'subscription.created',
      'subscription.updated',
      'subscription.paused',
      'subscription.resumed',
      'subscription.secret_rotated',
      'subscription.replayed',
      'subscription.deleted',
      'automation_rule.created',
      'automation_rule.updated',
      'automation_rule.deleted',
      'contacts.imported',
      'api_key.revoked',
    ]);
    const updated = mine.find((e) => e.action === 'subscription.updated');
    expect(updated).toMatchObject({
      actor: { type: 'api_key', id: key.id },
      clientAddress: '127.0.0.1',
      target: { type: 'subscription', id: sub.id },
      organizationId: tenant.orgId,
      locationId: tenant.locA,
      details: { url: { from: 'http://127.0.0.1:9999/a', to: 'http://127.0.0.1:9999/b' } },
    });
    expect(Date.now() - Date.parse(updated.at)).toBeGreaterThanOrEqual(0);
    expect(mine.find((e) => e.action === 'api_key.revoked')).toMatchObject({
      actor: { type: 'operator', id: null },
      target: { type: 'api_key', id: String(key.id) },
      organizationId: tenant.orgId,
      locationId: tenant.locA,
    });
    expect(mine.find((e) => e.action === 'contacts.imported')?.details).toMatchObject({
      total: 2,
      created: 2,
    });
    // never a secret in the log
    expect(JSON.stringify(mine)).not.toContain('whsec_');
    expect(JSON.stringify(mine)).not.toContain(key.key);
  });

  test('staff keys read their scope only; partner keys not at all', async ({ api, tenant }) => {
    await api.create('/api/subscriptions', { url: 'http://127.0.0.1:9999/a', locationId: tenant.locA });
    await api.create('/api/subscriptions', { url: 'http://127.0.0.1:9999/b', locationId: tenant.locB });
    await api.create('/api/subscriptions', { url: 'http://127.0.0.1:9999/c', organizationId: tenant.orgId });
    await api.create('/api/subscriptions', { url: 'http://127.0.0.1:9999/d', locationId: tenant.otherLoc });
    const urls = (entries: { action: string; details: { url?: string } }[]) =>
      entries.filter((e) => e.action === 'subscription.created').map((e) => e.details.url);

    expect(urls(await auditLog(api))).toEqual([
      'http://127.0.0.1:9999/a',
      'http://127.0.0.1:9999/b',
      'http://127.0.0.1:9999/c',
      'http://127.0.0.1:9999/d',
    ]);
    expect(urls(await auditLog(api, tenant.keys.orgStaff))).toEqual([
      'http://127.0.0.1:9999/a',
      'http://127.0.0.1:9999/b',
      'http://127.0.0.1:9999/c',
    ]);
    expect(urls(await auditLog(api, tenant.keys.locAStaff))).toEqual(['http://127.0.0.1:9999/a']);
    expect(urls(await auditLog(api, tenant.keys.otherStaff))).toEqual(['http://127.0.0.1:9999/d']);
    const partner = await api.get('/api/audit-log', { key: tenant.keys.orgPartner });
    expect(partner.status).toBe(403);

    // filters
    const bySub = await api.get(`/api/audit-log?action=subscription.created&limit=1`);
    expect(bySub.body.data).toHaveLength(1);
    const target = bySub.body.data[0].target.id;
    const byTarget = await api.get(`/api/audit-log?targetId=${target}`);
    expect(byTarget.body.data.map((e: { target: { id: string } }) => e.target.id)).toEqual([target]);
    const bad = await api.get('/api/audit-log?after=-1');
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('after');
  });

  test('an action that fails writes no entry: the entry is in the action’s transaction', async ({
    api,
    tenant,
    db,
  }) => {
    const before = await auditLog(api);
    await expect(
      db.transaction(async (tx) => {
        await insertAudit(tx, {
          actor: { type: 'operator', id: null },
          clientAddress: null,
          action: 'subscription.deleted',
          targetType: 'subscription',
          targetId: 'sub_x',
          organizationId: tenant.orgId,
          locationId: null,
        });
        throw new Error('the action failed after its entry was written');
      }),
    ).rejects.toThrow('the action failed');
    // a revocation of a key that does not exist, and a replay of a subscription not in scope
    expect((await api.delete('/api/api-keys/999999')).status).toBe(404);
    expect(
      (
        await api.post(
          '/api/subscriptions/sub_0123456789abcdef0123456789abcdef/replay',
          { since: new Date().toISOString() },
          { key: tenant.keys.orgStaff },
        )
      ).status,
    ).toBe(404);
    expect(await auditLog(api)).toEqual(before);
  });

  test('a subscription the service disables (410 Gone) is recorded, by the system', async ({
    api,
    tenant,
    db,
  }) => {
    const receiver = await Receiver.start();
    const worker = await startDeliveryWorker(db);
    try {
      receiver.status(410);
      const sub = await api.create('/api/subscriptions', { url: receiver.url, locationId: tenant.locA });
      await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'A' });
      await closeAllWindows(db);
      const entry = await waitFor(
        async () => (await auditLog(api, undefined, '&action=subscription.disabled'))[0],
        'the subscription to be disabled',
      );
      expect(entry).toMatchObject({
        actor: { type: 'system', id: null },
        clientAddress: null,
        target: { type: 'subscription', id: sub.id },
        organizationId: tenant.orgId,
        locationId: tenant.locA,
        details: { reason: expect.stringContaining('410'), url: receiver.url },
      });
    } finally {
      await worker.stop();
      await receiver.close();
    }
  });

  test('a subscription disabled by hand is recorded once, with who disabled it', async ({ api, tenant }) => {
    const sub = await api.create(
      '/api/subscriptions',
      { url: 'https://crm.example.com/hooks' },
      tenant.keys.locAPartner,
    );
    const off = await api.patch(
      `/api/subscriptions/${sub.id}`,
      { status: 'disabled' },
      { key: tenant.keys.locAStaff },
    );
    expect(off.status).toBe(200);
    const entries = await auditLog(api, undefined, `&action=subscription.disabled&targetId=${sub.id}`);
    expect(entries.map((e) => e.actor.type)).toEqual(['api_key']);
    expect(entries[0]).toMatchObject({ target: { type: 'subscription', id: sub.id } });
  });

  test('an operator-key reset is recorded, for the operator alone; old entries are purged', async ({
    api,
    tenant,
    db,
  }) => {
    await resetGeneratedAdminKey(db, { via: 'cli', user: 'ops' });
    const [reset] = await auditLog(api, undefined, '&action=operator_key.reset');
    expect(reset).toMatchObject({
      actor: { type: 'operator' },
      target: { type: 'operator_key' },
      details: { via: 'cli', user: 'ops' },
    });
    expect(await auditLog(api, tenant.keys.orgStaff, '&action=operator_key.reset')).toEqual([]);

    const count = async () => (await auditLog(api)).length;
    const all = await count();
    await db.query(
      `UPDATE audit_log SET at = now() - interval '366 days' WHERE action = 'operator_key.reset'`,
    );
    expect(await purgeAudit(db, 365, 1000)).toBe(1);
    expect(await count()).toBe(all - 1);
  });
});
