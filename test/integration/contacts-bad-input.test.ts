import { describe, expect } from 'vitest';
import { apiTest as test, type TestApi } from '../helpers/api.js';

const countRows = async (api: TestApi, table: string): Promise<number> => {
  const { rows } = await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
};

describe('bad input gets a 4xx naming the field, and writes nothing', () => {
  const cases: {
    name: string;
    body?: unknown;
    raw?: string;
    contentType?: string;
    status: number;
    code: string;
    field?: string;
  }[] = [
    {
      name: 'an unknown field',
      body: { firstName: 'x', favouriteColour: 'red' },
      status: 400,
      code: 'unknown_field',
      field: 'favouriteColour',
    },
    {
      name: 'a contact group outside the enum',
      body: { contactGroupId: 9 },
      status: 400,
      code: 'invalid_contact_group',
      field: 'contactGroupId',
    },
    {
      name: 'a contact group given as text',
      body: { contactGroupId: '3' },
      status: 400,
      code: 'invalid_type',
      field: 'contactGroupId',
    },
    {
      name: 'a name that is a number',
      body: { firstName: 5 },
      status: 400,
      code: 'invalid_type',
      field: 'firstName',
    },
    {
      name: 'tags that are not a list',
      body: { tags: 'vip' },
      status: 400,
      code: 'invalid_type',
      field: 'tags',
    },
    {
      name: 'a tag that is not text',
      body: { tags: ['ok', 7] },
      status: 400,
      code: 'invalid_type',
      field: 'tags[1]',
    },
    {
      name: 'an email that is not one',
      body: { email: 'not-an-email' },
      status: 400,
      code: 'invalid_value',
      field: 'email',
    },
    {
      name: 'a timestamp that is not one',
      body: { trialEndsAt: 'next tuesday' },
      status: 400,
      code: 'invalid_value',
      field: 'trialEndsAt',
    },
    {
      name: 'a boolean given as text',
      body: { canSms: 'yes' },
      status: 400,
      code: 'invalid_type',
      field: 'canSms',
    },
    {
      name: 'a negative staff id',
      body: { assignedStaffId: -1 },
      status: 400,
      code: 'invalid_value',
      field: 'assignedStaffId',
    },
    {
      name: 'a custom field with a nested object',
      body: { customFields: { a: { b: 1 } } },
      status: 400,
      code: 'invalid_type',
      field: 'customFields.a',
    },
    {
      name: 'a custom field name with spaces',
      body: { customFields: { 'bad name': 1 } },
      status: 400,
      code: 'invalid_value',
      field: 'customFields',
    },
    {
      name: 'isActive on creation',
      body: { isActive: false },
      status: 400,
      code: 'unknown_field',
      field: 'isActive',
    },
    {
      name: 'a sub-group that does not exist',
      body: { subGroupId: 4242 },
      status: 422,
      code: 'invalid_reference',
      field: 'subGroupId',
    },
    { name: 'a JSON array for a body', body: [{ firstName: 'x' }], status: 400, code: 'invalid_type' },
    { name: 'malformed JSON', raw: '{"firstName": "x",', status: 400, code: 'invalid_json' },
    { name: 'an empty JSON body', raw: '', status: 400, code: 'invalid_json' },
    {
      name: 'a body that is not JSON',
      raw: 'firstName=x',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'a body over the size limit',
      body: { firstName: 'x'.repeat(2 * 1024 * 1024) },
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'a prototype-poisoning body',
      raw: '{"__proto__": {"isAdmin": true}}',
      status: 400,
      code: 'invalid_json',
    },
  ];

  for (const c of cases) {
    test(`creating a contact with ${c.name} → ${c.status} ${c.code}`, async ({ api, tenant }) => {
      const before = await countRows(api, 'contact_history');
      const res = await api.call('POST', `/api/locations/${tenant.locA}/contacts`, {
        ...(c.raw !== undefined ? { raw: c.raw } : { body: c.body }),
        ...(c.contentType ? { headers: { 'content-type': c.contentType } } : {}),
      });
      expect(res.status).toBe(c.status);
      expect(res.body.error.code).toBe(c.code);
      expect(res.body.error.message).toEqual(expect.any(String));
      if (c.field !== undefined) expect(res.body.error.field).toBe(c.field);
      expect(await countRows(api, 'contacts')).toBe(0);
      expect(await countRows(api, 'contact_history')).toBe(before);
    });
  }

  test('a contact group outside the enum names the valid ones', async ({ api, tenant }) => {
    const res = await api.post(`/api/locations/${tenant.locA}/contacts`, { contactGroupId: 0 });
    expect(res.body.error.message).toContain('1 (Leads)');
    expect(res.body.error.message).toContain('7 (Staff)');
  });

  test('a patch with an unknown field or a read-only one changes nothing', async ({ api, tenant }) => {
    const c = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ivy' });
    for (const body of [
      { firstName: 'X', nope: 1 },
      { firstName: 'X', locationId: tenant.locB },
      { contactId: 5 },
    ]) {
      const res = await api.patch(`/api/contacts/${c.contactId}`, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('unknown_field');
    }
    expect((await api.get(`/api/contacts/${c.contactId}`)).body.firstName).toBe('Ivy');
  });

  test('a bad X-Change-Source is refused', async ({ api, tenant }) => {
    const res = await api.post(
      `/api/locations/${tenant.locA}/contacts`,
      {},
      { headers: { 'x-change-source': 'martians' } },
    );
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('X-Change-Source');
    expect(await countRows(api, 'contacts')).toBe(0);
  });

  test('a contact id that is not a number is a 400 naming the parameter', async ({ api }) => {
    const res = await api.get('/api/contacts/abc');
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('contactId');
  });

  test('an unknown contact is a 404', async ({ api }) => {
    const res = await api.get('/api/contacts/987654');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});
