import { describe, expect } from 'vitest';
import { apiTest as test, type Reply, type TestApi } from '../helpers/api.js';

// Found by the security review (#14): a NUL or a lone surrogate in a string answered 500 (PostgreSQL
// cannot store either: `invalid byte sequence for encoding "UTF8"`), an import row holding one
// aborted the whole import, and integers past the columns' range answered 500.

const NUL = 'a\u0000b';
const SURROGATE = 'a\ud800b';
const BAD_TEXT = [NUL, SURROGATE, '\udc00', 'x\udfff\ud800'];

function expectBadField(res: Reply, field: string, what: string): void {
  expect(res.status, what).toBe(400);
  expect(res.body.error, what).toMatchObject({ field });
}

/** A request with a body, and the field its 400 must name. */
type BadCall = [method: string, url: string, body: unknown, field: string];

async function expectEachBad(api: TestApi, calls: BadCall[]): Promise<void> {
  for (const [method, url, body, field] of calls) {
    expectBadField(await api.call(method, url, { body }), field, `${method} ${url} ${JSON.stringify(body)}`);
  }
}

/** Everything the tenant's API can read, to compare before and after bad requests. */
async function snapshot(api: TestApi, loc: number): Promise<string> {
  return JSON.stringify([
    (await api.get(`/api/locations/${loc}/contacts?limit=500`)).body,
    (await api.get(`/api/locations/${loc}/sub-groups`)).body,
    (await api.get(`/api/locations/${loc}/automations`)).body,
    (await api.get('/api/subscriptions')).body,
    (await api.get('/api/events')).body,
  ]);
}

describe('text PostgreSQL cannot store', () => {
  test('a NUL or a lone surrogate in any string field is a 400 naming it, and writes nothing', async ({
    api,
    tenant,
  }) => {
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    const { subGroupId } = await api.create(`/api/locations/${tenant.locA}/sub-groups`, { name: 'Morning' });
    const before = await snapshot(api, tenant.locA);
    const loc = `/api/locations/${tenant.locA}`;
    const rule = { trigger: { type: 'time', field: 'trialEndsAt' }, action: { set: { contactGroupId: 4 } } };
    for (const bad of BAD_TEXT) {
      const cases: BadCall[] = [
        ['POST', `${loc}/contacts`, { firstName: bad }, 'firstName'],
        ['POST', `${loc}/contacts`, { lastName: 'x', tags: ['ok', bad] }, 'tags[1]'],
        ['POST', `${loc}/contacts`, { customFields: { goal: bad } }, 'customFields.goal'],
        ['POST', `${loc}/contacts`, { externalId: bad }, 'externalId'],
        ['PATCH', `/api/contacts/${contactId}`, { phone: bad }, 'phone'],
        ['PATCH', `/api/contacts/${contactId}`, { membershipType: bad }, 'membershipType'],
        ['POST', `${loc}/sub-groups`, { name: bad }, 'name'],
        ['PATCH', `${loc}/sub-groups/${subGroupId}`, { name: bad }, 'name'],
        ['POST', '/api/organizations', { name: bad }, 'name'],
        ['POST', '/api/locations', { name: bad }, 'name'],
        [
          'POST',
          '/api/api-keys',
          { role: 'staff', locationId: tenant.locA, description: bad },
          'description',
        ],
        ['POST', '/api/subscriptions', { url: 'https://example.com/h', description: bad }, 'description'],
        ['POST', `${loc}/automations`, { name: bad, ...rule }, 'name'],
        [
          'POST',
          `${loc}/automations`,
          { name: 'r', ...rule, conditions: [{ field: 'tags', op: 'contains', value: bad }] },
          'conditions[0].value',
        ],
        [
          'POST',
          `${loc}/automations`,
          { name: 'r', ...rule, conditions: [{ field: 'firstName', op: 'eq', value: bad }] },
          'conditions[0].value',
        ],
      ];
      await expectEachBad(api, cases);
    }
    expect(await snapshot(api, tenant.locA)).toBe(before);
  });

  test('an import row holding such text is rejected alone; the rest apply', async ({ api, tenant }) => {
    const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, {
      contacts: [
        { firstName: 'Good' },
        { firstName: NUL },
        { lastName: 'x', tags: [SURROGATE] },
        { firstName: 'Also good', customFields: { note: 'fine' } },
        { customFields: { note: NUL } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 5, created: 2 });
    expect(res.body.rejected).toEqual([
      expect.objectContaining({ row: 2, field: 'firstName' }),
      expect.objectContaining({ row: 3, field: 'tags[0]' }),
      expect.objectContaining({ row: 5, field: 'customFields.note' }),
    ]);
  });

  test('a CSV import row with a NUL is rejected alone', async ({ api, tenant }) => {
    const res = await api.call('POST', `/api/locations/${tenant.locA}/contacts/import`, {
      raw: `firstName,lastName\nGood,One\nBad\u0000,Two\nAlso,Good\n`,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 3, created: 2 });
    expect(res.body.rejected).toEqual([expect.objectContaining({ row: 2, field: 'firstName' })]);
  });
});

describe('integers past the columns range', () => {
  test('every id and numeric parameter is bounded: a 400 naming it, not a 500', async ({ api, tenant }) => {
    const before = await snapshot(api, tenant.locA);
    const { contactId } = await api.create(`/api/locations/${tenant.locB}/contacts`, { firstName: 'Bo' });
    const huge = '99999999999999999999';
    const loc = `/api/locations/${tenant.locA}`;
    const gets: [url: string, field: string][] = [
      [`/api/events?locationId=${huge}`, 'locationId'],
      [`/api/contacts/${contactId}/history?after=${huge}`, 'after'],
      [`/api/contacts/${contactId}/history?after=2147483648`, 'after'],
      [`${loc}/contacts?after=${huge}`, 'after'],
      [`${loc}/sub-groups/2147483648`, 'subGroupId'],
      [`/api/locations/${huge}`, 'locationId'],
      [`/api/contacts/${huge}`, 'contactId'],
      [`/api/organizations/${huge}`, 'id'],
    ];
    for (const [url, field] of gets) expectBadField(await api.get(url), field, url);
    const posts: BadCall[] = [
      ['POST', '/api/subscriptions', { url: 'https://example.com/h', locationId: 1e300 }, 'locationId'],
      [
        'POST',
        '/api/subscriptions',
        { url: 'https://example.com/h', organizationId: 1e20 },
        'organizationId',
      ],
      ['POST', `${loc}/contacts`, { subGroupId: 2147483648 }, 'subGroupId'],
      ['POST', `${loc}/contacts`, { assignedStaffId: 1e20 }, 'assignedStaffId'],
      ['PATCH', `/api/contacts/${contactId}`, { subGroupId: 1e300 }, 'subGroupId'],
      ['POST', `/api/contacts/${contactId}/transfer`, { locationId: 1e20 }, 'locationId'],
      ['POST', '/api/locations', { name: 'x', organizationId: 1e20 }, 'organizationId'],
      ['POST', '/api/api-keys', { role: 'staff', locationId: 1e20 }, 'locationId'],
    ];
    await expectEachBad(api, posts);
    expect(await snapshot(api, tenant.locA)).toBe(before);
  });
});
