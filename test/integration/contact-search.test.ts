import { describe, expect } from 'vitest';
import { apiTest } from '../helpers/api.js';

// Contact search, for the portal's contacts page (docs/api.md, "Contacts").

describe('contact search', () => {
  apiTest('finds contacts by part of their name, email or phone, ignoring case', async ({ api, tenant }) => {
    const make = async (body: object) =>
      (await api.create(`/api/locations/${tenant.locA}/contacts`, body)).contactId as number;
    const ada = await make({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' });
    const bo = await make({ firstName: 'Bo', lastName: 'Adams', phone: '+44 20 7946 0000' });
    await make({ firstName: 'Cy', email: 'cy@example.org' });
    await api.create(`/api/locations/${tenant.locB}/contacts`, { firstName: 'Ada' });

    const search = async (term: string) => {
      const res = await api.get(`/api/locations/${tenant.locA}/contacts?search=${encodeURIComponent(term)}`);
      expect(res.status).toBe(200);
      return res.body.data.map((c: { contactId: number }) => c.contactId);
    };
    expect(await search('ADA')).toEqual([ada, bo]);
    expect(await search('lovelace')).toEqual([ada]);
    expect(await search('example.com')).toEqual([ada]);
    expect(await search('7946')).toEqual([bo]);
    expect(await search('%')).toEqual([]);
    expect(await search('nobody')).toEqual([]);
    const bad = await api.get(`/api/locations/${tenant.locA}/contacts?search=`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toContain('search');
  });
});
