import { describe, expect } from 'vitest';
import { apiTest as test } from '../helpers/api.js';
import { addRule, becomes, rulesUrl, set } from '../helpers/automations.js';

describe('automation rules API', () => {
  test('staff create, list, read, change, disable and delete a location rule', async ({ api, tenant }) => {
    const key = tenant.keys.locAStaff;
    const created = await api.post(
      rulesUrl(tenant.locA),
      {
        name: ' Trial ended ',
        trigger: { type: 'time', field: 'trialEndsAt' },
        conditions: [{ field: 'contactGroupId', op: 'eq', value: 2 }],
        action: set({ contactGroupId: 4 }),
      },
      { key },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      ruleId: expect.any(Number),
      locationId: tenant.locA,
      name: 'Trial ended',
      enabled: true,
      trigger: { type: 'time', field: 'trialEndsAt', offsetMinutes: 0 },
      conditions: [{ field: 'contactGroupId', op: 'eq', value: 2 }],
      action: { set: { contactGroupId: 4 } },
      lastError: null,
    });
    const url = `${rulesUrl(tenant.locA)}/${created.body.ruleId}`;
    expect((await api.get(rulesUrl(tenant.locA), { key })).body.data).toEqual([created.body]);
    expect((await api.get(url, { key })).body).toEqual(created.body);
    const disabled = await api.patch(url, { enabled: false, name: 'Trial over' }, { key });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({
      enabled: false,
      name: 'Trial over',
      trigger: created.body.trigger,
    });
    expect((await api.delete(url, { key })).status).toBe(204);
    expect((await api.get(url, { key })).status).toBe(404);
    expect((await api.get(rulesUrl(tenant.locA), { key })).body.data).toEqual([]);
  });

  test.for<[object, number, string, string]>([
    [{ trigger: { type: 'when_ever', field: 'email' } }, 400, 'invalid_value', 'trigger.type'],
    [{ trigger: { type: 'field_changed', field: 'shoeSize' } }, 400, 'invalid_value', 'trigger.field'],
    [{ trigger: { type: 'field_changed' } }, 400, 'missing_field', 'trigger.field'],
    [{ trigger: { type: 'field_changed', field: 'email', when: 1 } }, 400, 'unknown_field', 'trigger.when'],
    [
      { trigger: { type: 'field_changed', field: 'contactGroupId', to: 9 } },
      400,
      'invalid_contact_group',
      'trigger.to',
    ],
    [
      { trigger: { type: 'field_condition', field: 'tags', op: 'like', value: 'x' } },
      400,
      'invalid_value',
      'trigger.op',
    ],
    [
      { trigger: { type: 'field_condition', field: 'email', op: 'contains', value: 'x' } },
      400,
      'invalid_value',
      'trigger.op',
    ],
    [
      { trigger: { type: 'field_condition', field: 'canSms', op: 'is_null' } },
      400,
      'invalid_value',
      'trigger.op',
    ],
    [
      { trigger: { type: 'field_condition', field: 'canSms', op: 'eq', value: 'yes' } },
      400,
      'invalid_type',
      'trigger.value',
    ],
    [
      { trigger: { type: 'field_changed', field: 'email', sources: ['robot'] } },
      400,
      'invalid_value',
      'trigger.sources[0]',
    ],
    [{ trigger: { type: 'time', field: 'firstName' } }, 400, 'invalid_value', 'trigger.field'],
    [
      { trigger: { type: 'time', field: 'trialEndsAt', offsetMinutes: 1.5 } },
      400,
      'invalid_value',
      'trigger.offsetMinutes',
    ],
    [
      { conditions: [{ field: 'contactGroupId', op: 'in', value: [1, 8] }] },
      400,
      'invalid_contact_group',
      'conditions[0].value[1]',
    ],
    [{ action: set({ contactGroupId: 0 }) }, 400, 'invalid_contact_group', 'action.set.contactGroupId'],
    [{ action: set({}) }, 400, 'missing_field', 'action.set'],
    [{ action: set({ email: 'x@example.com' }) }, 400, 'unknown_field', 'action.set.email'],
    [{ action: set({ subGroupId: 999 }) }, 422, 'invalid_reference', 'action.set.subGroupId'],
    [{ owner: 'me' }, 400, 'unknown_field', 'owner'],
  ])(
    'a rule %j is refused (%i %s on %s) and nothing is written',
    async ([patch, status, code, field], { api, tenant }) => {
      const res = await api.post(rulesUrl(tenant.locA), {
        name: 'bad',
        trigger: becomes('contactGroupId', 2),
        action: set({ contactGroupId: 3 }),
        ...patch,
      });
      expect(res.status).toBe(status);
      expect(res.body.error).toMatchObject({ code, field });
      expect((await api.get(rulesUrl(tenant.locA))).body.data).toEqual([]);
    },
  );

  test('a sub-group of another location cannot be set, one of the rule location can', async ({
    api,
    tenant,
  }) => {
    const sgB = await api.create(`/api/locations/${tenant.locB}/sub-groups`, { name: 'B only' });
    await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'A one' });
    const body = { name: 'x', trigger: becomes('contactGroupId', 3), action: set({ subGroupId: 2 }) };
    // sub-group 2 exists only at B (B numbers its own from 1: sgB is 1; A has 1)
    expect(sgB.subGroupId).toBe(1);
    expect((await api.post(rulesUrl(tenant.locA), body)).status).toBe(422);
    expect((await api.post(rulesUrl(tenant.locA), { ...body, action: set({ subGroupId: 1 }) })).status).toBe(
      201,
    );
  });

  test('partners may not manage or read rules; keys outside the scope see nothing', async ({
    api,
    tenant,
  }) => {
    const body = { name: 'x', trigger: becomes('contactGroupId', 2), action: set({ contactGroupId: 3 }) };
    const id = await addRule(api, tenant.locA, body);
    expect((await api.post(rulesUrl(tenant.locA), body, { key: tenant.keys.orgPartner })).status).toBe(403);
    expect((await api.get(rulesUrl(tenant.locA), { key: tenant.keys.locAPartner })).status).toBe(403);
    expect((await api.get(`${rulesUrl(tenant.locA)}/${id}`, { key: tenant.keys.orgPartner })).status).toBe(
      403,
    );
    expect((await api.get(rulesUrl(tenant.locA), { key: tenant.keys.otherStaff })).status).toBe(404);
    expect((await api.post(rulesUrl(tenant.locB), body, { key: tenant.keys.locAStaff })).status).toBe(404);
    // the rule exists, but not at location B
    expect((await api.get(`${rulesUrl(tenant.locB)}/${id}`, { key: tenant.keys.orgStaff })).status).toBe(404);
    expect((await api.delete(`${rulesUrl(tenant.locA)}/${id}`, { key: tenant.keys.otherStaff })).status).toBe(
      404,
    );
    expect((await api.get(`${rulesUrl(tenant.locA)}/${id}`, { key: tenant.keys.orgStaff })).status).toBe(200);
  });
});
