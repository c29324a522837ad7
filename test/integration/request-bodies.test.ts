import { describe, expect } from 'vitest';
import { apiTest as test } from '../helpers/api.js';

// Found by the bad-request drill (drills/bad-requests.ts): routes that take no body ignored one,
// so `POST …/reactivate {"contactGroupId": 3}` reactivated the contact and silently dropped the
// field, and a text/plain body was read as a string wherever a route declared no body.
describe('request bodies where a route takes none', () => {
  test('a body with fields is refused naming the field, and nothing is written', async ({ api, tenant }) => {
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    const res = await api.call('DELETE', `/api/contacts/${contactId}`, { body: { isActive: true } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'unknown_field', field: 'isActive' });
    const reactivate = await api.post(`/api/contacts/${contactId}/reactivate`, { contactGroupId: 3 });
    expect(reactivate.status).toBe(400);
    expect(reactivate.body.error).toMatchObject({ code: 'unknown_field', field: 'contactGroupId' });
    const contact = await api.get(`/api/contacts/${contactId}`);
    expect(contact.body.isActive).toBe(true);
    expect((await api.get(`/api/contacts/${contactId}/history`)).body.data).toHaveLength(1);
  });

  test('a body that is not an object is refused; no body or an empty object is fine', async ({
    api,
    tenant,
  }) => {
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    for (const raw of ['[1]', '"x"', '3', 'null']) {
      const res = await api.call('DELETE', `/api/contacts/${contactId}`, { raw });
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code, raw).toBe('invalid_request');
    }
    expect((await api.get(`/api/contacts/${contactId}`)).body.isActive).toBe(true);
    expect((await api.call('DELETE', `/api/contacts/${contactId}`, { body: {} })).status).toBe(200);
    expect((await api.post(`/api/contacts/${contactId}/reactivate`)).status).toBe(200);
  });

  test('a text/plain body is refused as an unsupported media type, with or without a body schema', async ({
    api,
    tenant,
  }) => {
    const { contactId } = await api.create(`/api/locations/${tenant.locA}/contacts`, { firstName: 'Ada' });
    const headers = { 'content-type': 'text/plain' };
    const del = await api.call('DELETE', `/api/contacts/${contactId}`, { raw: 'please', headers });
    expect(del.status).toBe(415);
    expect(del.body.error.code).toBe('unsupported_media_type');
    const create = await api.call('POST', `/api/locations/${tenant.locA}/contacts`, { raw: '{}', headers });
    expect(create.status).toBe(415);
    expect((await api.get(`/api/contacts/${contactId}`)).body.isActive).toBe(true);
  });
});
