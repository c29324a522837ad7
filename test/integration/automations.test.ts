import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { operatorKeyFromToken } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import { MAX_CHAIN_DEPTH } from '../../src/automation/apply.js';
import { apiTest as test, OPERATOR_KEY, TestApi, testConfig, type Tenant } from '../helpers/api.js';
import { allEvents, closeAllWindows, waitFor } from '../helpers/events.js';
import { createRule } from '../../src/store/automation-rules.js';
import { addRule, becomes, eventsWhen, history, rulesUrl, set } from '../helpers/automations.js';

describe('rules triggered by changes', () => {
  test('a field_changed rule acts in the same transaction, recorded as automation with the rule as actor', async ({
    api,
    tenant,
  }) => {
    const sg = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Prospects to call' });
    const ruleId = await addRule(api, tenant.locA, {
      trigger: becomes('contactGroupId', 2),
      action: set({ subGroupId: sg.subGroupId }),
    });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    expect(c.subGroupId).toBeNull();
    const res = await api.patch(`/api/contacts/${c.contactId}`, { contactGroupId: 2 });
    // the answer is the contact as the transaction left it, rules included
    expect(res.body).toMatchObject({ contactGroupId: 2, subGroupId: sg.subGroupId });
    const rows = await history(api, c.contactId);
    expect(rows.slice(1)).toMatchObject([
      { source: 'staff', actorType: 'operator', changes: { contactGroupId: { from: 1, to: 2 } } },
      {
        source: 'automation',
        actorType: 'automation_rule',
        actor: ruleId,
        changes: { subGroupId: { from: null, to: sg.subGroupId } },
      },
    ]);
    // another change of the group does not match "changes to 2"
    await api.patch(`/api/contacts/${c.contactId}`, { subGroupId: null, contactGroupId: 5 });
    expect((await api.get(`/api/contacts/${c.contactId}`)).body.subGroupId).toBeNull();
  });

  test('a field_condition rule applies when a creation or change makes its condition hold, and only then', async ({
    api,
    tenant,
  }) => {
    const vip = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'VIP' });
    await addRule(api, tenant.locA, {
      trigger: { type: 'field_condition', field: 'tags', op: 'contains', value: 'vip' },
      conditions: [{ field: 'contactGroupId', op: 'in', value: [3, 7] }],
      action: set({ subGroupId: vip.subGroupId }),
    });
    const member = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      tags: ['vip'],
      contactGroupId: 3,
    });
    expect(member.subGroupId).toBe(vip.subGroupId);
    const lead = await api.create(`/api/locations/${tenant.locA}/contacts`, { tags: ['vip'] });
    expect(lead.subGroupId).toBeNull(); // the extra condition (a member or staff) does not hold
    const later = await api.patch(`/api/contacts/${lead.contactId}`, { contactGroupId: 7 });
    expect(later.body.subGroupId).toBe(vip.subGroupId);
    // the rule runs after every change while its condition holds: once the tag is gone, the
    // sub-group can be taken off and stays off
    const off = await api.patch(`/api/contacts/${member.contactId}`, { tags: [], subGroupId: null });
    expect(off.body.subGroupId).toBeNull();
    const again = await api.patch(`/api/contacts/${member.contactId}`, { subGroupId: null, tags: ['vip'] });
    expect(again.body.subGroupId).toBe(vip.subGroupId);
  });

  test('rules do not act on inactive contacts', async ({ api, tenant }) => {
    await addRule(api, tenant.locA, {
      trigger: becomes('contactGroupId', 2),
      action: set({ contactGroupId: 3 }),
    });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {});
    await api.delete(`/api/contacts/${c.contactId}`);
    const res = await api.patch(`/api/contacts/${c.contactId}`, { contactGroupId: 2 });
    expect(res.body).toMatchObject({ isActive: false, contactGroupId: 2 });
    expect((await history(api, c.contactId)).map((h) => h.source)).toEqual(['staff', 'staff', 'staff']);
  });

  test('a disabled rule does nothing; enabled again, it acts', async ({ api, tenant }) => {
    const id = await addRule(api, tenant.locA, {
      enabled: false,
      trigger: becomes('contactGroupId', 2),
      action: set({ contactGroupId: 3 }),
    });
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 2 });
    expect(c.contactGroupId).toBe(2);
    await api.patch(`${rulesUrl(tenant.locA)}/${id}`, { enabled: true });
    expect(
      (await api.create(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 2 })).contactGroupId,
    ).toBe(3);
  });

  test('a rule acts only at its own location', async ({ api, tenant }) => {
    await addRule(api, tenant.locA, {
      trigger: becomes('contactGroupId', 2),
      action: set({ contactGroupId: 3 }),
    });
    const b = await api.create(`/api/locations/${tenant.locB}/contacts`, { contactGroupId: 2 });
    expect(b.contactGroupId).toBe(2);
  });
});

describe('the rules a write reads', () => {
  // read by the statement that writes the change (src/store/contact-writes.ts), never kept between writes
  test('a rule another process created applies to the next write here', async ({ api, tenant, testDb }) => {
    const id = (await api.create(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 1 })).contactId;
    expect((await api.patch(`/api/contacts/${id}`, { contactGroupId: 2 })).body.contactGroupId).toBe(2);
    await createRule(testDb.openAnother(), tenant.locA, {
      name: 'written straight to the store',
      enabled: true,
      trigger: { type: 'field_changed', field: 'contactGroupId', to: 3 },
      conditions: [],
      action: { set: { contactGroupId: 4 } },
    });
    expect((await api.patch(`/api/contacts/${id}`, { contactGroupId: 3 })).body.contactGroupId).toBe(4);
  });

  test('a transfer runs the rules of the location the contact moves to', async ({ api, tenant }) => {
    const id = (await api.create(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 2 })).contactId;
    const atB = await addRule(api, tenant.locB, {
      trigger: { type: 'field_condition', field: 'contactGroupId', op: 'eq', value: 2 },
      action: set({ contactGroupId: 3 }),
    });
    const moved = await api.post(`/api/contacts/${id}/transfer`, { locationId: tenant.locB });
    expect(moved.body).toMatchObject({ locationId: tenant.locB, contactGroupId: 3 });
    expect((await history(api, id)).map((h) => [h.actorType, h.actor])).toEqual([
      ['operator', null],
      ['operator', null],
      ['automation_rule', atB],
    ]);
  });
});

async function chainRules(api: TestApi, t: Tenant): Promise<{ toProspect: number; toMember: number }> {
  // a trial sign-up (tag) makes a lead a prospect; a prospect with a membership type becomes a member
  const toProspect = await addRule(api, t.locA, {
    name: 'sign-up makes a prospect',
    trigger: { type: 'field_condition', field: 'tags', op: 'contains', value: 'signed-up' },
    conditions: [{ field: 'contactGroupId', op: 'eq', value: 1 }],
    action: set({ contactGroupId: 2 }),
  });
  const toMember = await addRule(api, t.locA, {
    name: 'prospect with a plan is a member',
    trigger: becomes('contactGroupId', 2),
    conditions: [{ field: 'membershipType', op: 'is_not_null' }],
    action: set({ contactGroupId: 3 }),
  });
  return { toProspect, toMember };
}

describe('rule chains', () => {
  test('Lead → Prospect → Member by two chained rules emits one status_changed 1 → 3 with its contact.updated', async ({
    api,
    tenant,
  }) => {
    const { toProspect, toMember } = await chainRules(api, tenant);
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    await closeAllWindows(api.db);
    const { cursor } = await eventsWhen(api, '0', 2);

    const res = await api.patch(`/api/contacts/${c.contactId}`, {
      tags: ['signed-up'],
      membershipType: 'monthly',
    });
    expect(res.body.contactGroupId).toBe(3);
    expect((await history(api, c.contactId)).slice(1)).toMatchObject([
      { source: 'staff', changes: { tags: { from: [], to: ['signed-up'] } } },
      { source: 'automation', actor: toProspect, changes: { contactGroupId: { from: 1, to: 2 } } },
      { source: 'automation', actor: toMember, changes: { contactGroupId: { from: 2, to: 3 } } },
    ]);
    await closeAllWindows(api.db);
    const { events } = await eventsWhen(api, cursor, 2);
    expect(events.map((e) => [e.eventType, e.data])).toEqual([
      ['contact.status_changed', { contactId: c.contactId, previousStatusId: 1, newStatusId: 3 }],
      ['contact.updated', { contactId: c.contactId, operation: 'update' }],
    ]);
    expect(new Set(events.map((e) => e.eventTimestamp)).size).toBe(1);
  });

  test('a chain started by an import runs for every row, in the rows own windows', async ({
    api,
    tenant,
  }) => {
    await chainRules(api, tenant);
    const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, {
      contacts: [
        { externalId: 'a', tags: ['signed-up'], membershipType: 'annual' },
        { externalId: 'b', tags: ['signed-up'] },
        { externalId: 'c' },
      ],
    });
    expect(res.body).toMatchObject({ created: 3, rejected: [] });
    const all = (await api.get(`/api/locations/${tenant.locA}/contacts`)).body.data;
    expect(
      all.map((c: { externalId: string; contactGroupId: number }) => [c.externalId, c.contactGroupId]),
    ).toEqual([
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ]);
    const [a] = all;
    expect((await history(api, a.contactId)).map((h) => h.source)).toEqual([
      'import',
      'automation',
      'automation',
    ]);
    await closeAllWindows(api.db);
    const { events } = await waitFor(async () => {
      const r = await allEvents(api);
      return r.events.filter((e) => e.data.contactId === a.contactId).length >= 3 ? r : undefined;
    }, "the first row's events");
    expect(
      events.filter((e) => e.data.contactId === a.contactId).map((e) => [e.eventType, e.data.newStatusId]),
    ).toEqual([
      ['contact.created', undefined],
      ['contact.status_changed', 3],
      ['contact.updated', undefined],
    ]);
  });

  test('a chain that loops stops at the depth bound, logs an error and shows it on the rules', async ({
    db,
    tenant,
  }) => {
    const lines: { level: number; msg: string; ruleIds?: number[] }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        cb();
      },
    });
    const app = buildApi({
      db,
      config: testConfig(),
      operatorKey: operatorKeyFromToken(OPERATOR_KEY),
      logger: pino({ level: 'error' }, stream),
    });
    const api = new TestApi(app, db);
    try {
      const up = await addRule(api, tenant.locA, {
        trigger: becomes('contactGroupId', 2),
        action: set({ contactGroupId: 3 }),
      });
      const down = await addRule(api, tenant.locA, {
        trigger: becomes('contactGroupId', 3),
        action: set({ contactGroupId: 2 }),
      });
      const c = await api.create(`/api/locations/${tenant.locA}/contacts`, {});
      const res = await api.patch(`/api/contacts/${c.contactId}`, { contactGroupId: 2 });
      expect(res.status).toBe(200);
      const rows = await history(api, c.contactId);
      expect(rows).toHaveLength(2 + MAX_CHAIN_DEPTH);
      expect(rows.slice(2).map((r) => r.actor)).toEqual(
        Array.from({ length: MAX_CHAIN_DEPTH }, (_, i) => (i % 2 === 0 ? up : down)),
      );
      const logged = lines.find((l) => l.msg.includes('chain stopped'));
      expect(logged).toMatchObject({ level: 50, ruleIds: [up] });
      const rule = (await api.get(`${rulesUrl(tenant.locA)}/${up}`)).body;
      expect(rule.lastError).toMatchObject({ message: expect.stringContaining(`contact ${c.contactId}`) });
      // changing the rule clears its error
      expect(
        (await api.patch(`${rulesUrl(tenant.locA)}/${up}`, { enabled: false })).body.lastError,
      ).toBeNull();
    } finally {
      await app.close();
    }
  });
});

describe('billing as a change source', () => {
  test('a billing write is recorded as billing and triggers rules that listen to billing only', async ({
    api,
    tenant,
  }) => {
    const churned = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Churned' });
    const ruleId = await addRule(api, tenant.locA, {
      trigger: becomes('contactGroupId', 4, ['billing']),
      action: set({ subGroupId: churned.subGroupId }),
    });
    const a = await api.create(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 3 });
    const b = await api.create(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 3 });
    const billed = await api.patch(
      `/api/contacts/${a.contactId}`,
      { contactGroupId: 4 },
      { headers: { 'x-change-source': 'billing' } },
    );
    expect(billed.body.subGroupId).toBe(churned.subGroupId);
    expect((await history(api, a.contactId)).slice(1)).toMatchObject([
      { source: 'billing', changes: { contactGroupId: { from: 3, to: 4 } } },
      { source: 'automation', actor: ruleId, actorType: 'automation_rule' },
    ]);
    const byStaff = await api.patch(`/api/contacts/${b.contactId}`, { contactGroupId: 4 });
    expect(byStaff.body.subGroupId).toBeNull();
  });
});
