import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { apiTest as test, type TestApi } from '../helpers/api.js';

const contactsAt = async (api: TestApi, loc: number) =>
  (await api.get(`/api/locations/${loc}/contacts?limit=500`)).body.data as {
    contactId: number;
    firstName: string | null;
    email: string | null;
    externalId: string | null;
    isActive: boolean;
    contactGroupId: number;
  }[];

describe('bulk import', () => {
  test('creates new contacts and updates those matched by externalId or by email', async ({
    api,
    tenant,
  }) => {
    const byExt = await api.create(`/api/locations/${tenant.locA}/contacts`, {
      externalId: 'crm-1',
      firstName: 'Old',
    });
    const byMail = await api.create(`/api/locations/${tenant.locA}/contacts`, { email: 'Bo@Example.com' });
    const res = await api.post(
      `/api/locations/${tenant.locA}/contacts/import`,
      {
        contacts: [
          { externalId: 'crm-1', firstName: 'New', contactGroupId: 3 },
          { email: 'bo@example.com', lastName: 'Bo' },
          { firstName: 'Fresh', email: 'fresh@example.com', tags: ['import'] },
        ],
      },
      { key: tenant.keys.orgStaff },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      total: 3,
      created: 1,
      updated: 2,
      unchanged: 0,
      deactivated: 0,
      rejected: [],
    });
    expect((await api.get(`/api/contacts/${byExt.contactId}`)).body).toMatchObject({
      firstName: 'New',
      contactGroupId: 3,
    });
    expect((await api.get(`/api/contacts/${byMail.contactId}`)).body).toMatchObject({
      lastName: 'Bo',
      email: 'bo@example.com',
    });
    const all = await contactsAt(api, tenant.locA);
    expect(all.map((c) => c.firstName).sort()).toEqual(['Fresh', 'New', null]);
    const history = (await api.get(`/api/contacts/${byExt.contactId}/history`)).body.data;
    expect(history.at(-1)).toMatchObject({
      source: 'import',
      changes: { firstName: { from: 'Old', to: 'New' } },
    });
  });

  test('bad rows are rejected with their reason and field while the valid rows apply', async ({
    api,
    tenant,
  }) => {
    const sgB = await api.create(`/api/locations/${tenant.locB}/sub-groups`, { name: 'B' });
    const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, {
      contacts: [
        { firstName: 'Good' },
        { firstName: 'Bad group', contactGroupId: 9 },
        'not an object',
        { firstName: 'Typo', favouriteColour: 'red' },
        { firstName: 'Wrong sub-group', subGroupId: sgB.subGroupId + 40 },
        { firstName: 'Also good', email: 'ok@example.com' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 6, created: 2, updated: 0 });
    expect(res.body.rejected).toEqual([
      expect.objectContaining({ row: 2, code: 'invalid_contact_group', field: 'contactGroupId' }),
      expect.objectContaining({ row: 3, code: 'invalid_type' }),
      expect.objectContaining({ row: 4, code: 'unknown_field', field: 'favouriteColour' }),
      expect.objectContaining({ row: 5, code: 'invalid_reference', field: 'subGroupId' }),
    ]);
    expect((await contactsAt(api, tenant.locA)).map((c) => c.firstName).sort()).toEqual([
      'Also good',
      'Good',
    ]);
  });

  test('a row repeating an earlier row of the file is rejected as a duplicate', async ({ api, tenant }) => {
    const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, {
      contacts: [
        { externalId: 'x', firstName: 'First' },
        { externalId: 'x', firstName: 'Second' },
        { email: 'same@example.com' },
        { email: 'SAME@example.com', firstName: 'Again' },
      ],
    });
    expect(res.body).toMatchObject({ created: 2 });
    expect(res.body.rejected.map((r: { row: number; code: string }) => [r.row, r.code])).toEqual([
      [2, 'duplicate_row'],
      [4, 'duplicate_row'],
    ]);
    expect((await contactsAt(api, tenant.locA)).find((c) => c.externalId === 'x')?.firstName).toBe('First');
  });

  test('importing the same rows again changes nothing', async ({ api, tenant }) => {
    const rows = [
      { externalId: 'a', firstName: 'A', tags: ['x', 'y'] },
      { externalId: 'b', firstName: 'B' },
    ];
    await api.post(`/api/locations/${tenant.locA}/contacts/import`, { contacts: rows });
    const again = await api.post(`/api/locations/${tenant.locA}/contacts/import`, { contacts: rows });
    expect(again.body).toMatchObject({ created: 0, updated: 0, unchanged: 2 });
    const [a] = await contactsAt(api, tenant.locA);
    expect((await api.get(`/api/contacts/${a!.contactId}/history`)).body.data).toHaveLength(1);
  });

  test('deactivateMissing deactivates the contacts no row names, except those a rejected row names', async ({
    api,
    tenant,
  }) => {
    const keep = await api.create(`/api/locations/${tenant.locA}/contacts`, { externalId: 'keep' });
    const gone = await api.create(`/api/locations/${tenant.locA}/contacts`, { externalId: 'gone' });
    const typo = await api.create(`/api/locations/${tenant.locA}/contacts`, { externalId: 'typo' });
    const elsewhere = await api.create(`/api/locations/${tenant.locB}/contacts`, { externalId: 'gone' });
    const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, {
      contacts: [{ externalId: 'keep' }, { externalId: 'typo', contactGroupId: 99 }, { externalId: 'new' }],
      deactivateMissing: true,
    });
    expect(res.body).toMatchObject({ created: 1, unchanged: 1, deactivated: 1 });
    const state = async (id: number) => (await api.get(`/api/contacts/${id}`)).body.isActive;
    expect(await state(keep.contactId)).toBe(true);
    expect(await state(gone.contactId)).toBe(false);
    expect(await state(typo.contactId)).toBe(true);
    expect(await state(elsewhere.contactId)).toBe(true);
    const history = (await api.get(`/api/contacts/${gone.contactId}/history`)).body.data;
    expect(history.at(-1)).toMatchObject({ operation: 'delete', source: 'import' });
  });

  test('imports are a staff action within the key scope, with a checked body', async ({ api, tenant }) => {
    const url = `/api/locations/${tenant.locA}/contacts/import`;
    expect((await api.post(url, { contacts: [] }, { key: tenant.keys.orgPartner })).status).toBe(403);
    expect(
      (
        await api.post(
          `/api/locations/${tenant.locB}/contacts/import`,
          { contacts: [] },
          { key: tenant.keys.locAStaff },
        )
      ).status,
    ).toBe(404);
    const bad = await api.post(url, { contacts: 'nope' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('contacts');
    expect((await api.post(url, { contacts: [], extra: 1 })).body.error.code).toBe('unknown_field');
  });

  test('a thousands-row import is applied in full', async ({ api, tenant }) => {
    const contacts = Array.from({ length: 2500 }, (_, i) => ({ externalId: `e${i}`, firstName: `N${i}` }));
    const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, { contacts });
    expect(res.body).toMatchObject({ total: 2500, created: 2500, rejected: [] });
    const updated = await api.post(`/api/locations/${tenant.locA}/contacts/import`, {
      contacts: contacts.map((c, i) => (i % 2 ? { ...c, contactGroupId: 3 } : c)),
    });
    expect(updated.body).toMatchObject({ updated: 1250, unchanged: 1250 });
  });
});

describe('bulk import from CSV', () => {
  const csv = (api: TestApi, loc: number, text: string, query = '') =>
    api.call('POST', `/api/locations/${loc}/contacts/import${query}`, {
      raw: text,
      headers: { 'content-type': 'text/csv' },
    });

  test('reads quoted cells, types, tags and custom fields', async ({ api, tenant }) => {
    const text = [
      '\uFEFFexternalId,firstName,lastName,contactGroupId,canSms,tags,trialEndsAt,customFields.belt',
      'c1,"Smith, Jr.","O""Brien",3,yes,vip;hiit,2026-07-01T00:00:00Z,blue',
      'c2,"Multi',
      'line",,,false,,,',
      '',
      'c3,Eve,,,,,,',
    ].join('\r\n');
    const res = await csv(api, tenant.locA, text);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 3, created: 3, rejected: [] });
    const all = (await api.get(`/api/locations/${tenant.locA}/contacts`)).body.data;
    const byExt = Object.fromEntries(all.map((c: { externalId: string }) => [c.externalId, c]));
    expect(byExt.c1).toMatchObject({
      firstName: 'Smith, Jr.',
      lastName: 'O"Brien',
      contactGroupId: 3,
      canSms: true,
      tags: ['hiit', 'vip'],
      trialEndsAt: '2026-07-01T00:00:00.000Z',
      customFields: { belt: 'blue' },
    });
    expect(byExt.c2).toMatchObject({ firstName: 'Multi\r\nline', canSms: false, contactGroupId: 1 });
    expect(byExt.c3).toMatchObject({ firstName: 'Eve', lastName: null });
  });

  test('a bad cell rejects its row, naming the field; an empty cell leaves the field as it was', async ({
    api,
    tenant,
  }) => {
    await csv(api, tenant.locA, 'externalId,firstName,lastName\nk1,Kim,Lee\n');
    const res = await csv(api, tenant.locA, 'externalId,firstName,contactGroupId\nk1,,2\nk2,Bad,nine\n');
    expect(res.body).toMatchObject({ updated: 1, created: 0 });
    expect(res.body.rejected).toEqual([
      expect.objectContaining({ row: 2, field: 'contactGroupId', code: 'invalid_type' }),
    ]);
    const [k1] = (await api.get(`/api/locations/${tenant.locA}/contacts`)).body.data;
    expect(k1).toMatchObject({ firstName: 'Kim', lastName: 'Lee', contactGroupId: 2 });
  });

  test('an unknown column or unreadable CSV is refused whole, with nothing written', async ({
    api,
    tenant,
  }) => {
    const unknown = await csv(api, tenant.locA, 'externalId,favouriteColour\nx,red\n');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'unknown_field', field: 'favouriteColour' });
    const broken = await csv(api, tenant.locA, 'externalId,firstName\nx,"unclosed\n');
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('invalid_csv');
    expect((await api.get(`/api/locations/${tenant.locA}/contacts`)).body.data).toEqual([]);
  });

  test('a row with the wrong number of cells is rejected on its own, by data row number; the rest apply', async ({
    api,
    tenant,
  }) => {
    const text = 'externalId,firstName,lastName\nr1,Ann,Lee\nr2,Bob,Ray,extra\nr3,Cy\n\nr4,Di,Fox\n';
    const res = await csv(api, tenant.locA, text);
    expect(res.status).toBe(200);
    // data rows: the header is not counted, nor the blank line
    expect(res.body).toMatchObject({ total: 4, created: 2 });
    expect(res.body.rejected).toEqual([
      { row: 2, code: 'invalid_row', reason: 'this row has 4 cells; the header has 3 columns' },
      { row: 3, code: 'invalid_row', reason: 'this row has 2 cells; the header has 3 columns' },
    ]);
    const names = (await api.get(`/api/locations/${tenant.locA}/contacts`)).body.data.map(
      (c: { externalId: string }) => c.externalId,
    );
    expect(names).toEqual(['r1', 'r4']);
  });

  test('tags are separated by ";" (or "|"); a comma in a tags cell rejects the row instead of making one tag', async ({
    api,
    tenant,
  }) => {
    const text = 'externalId,tags\nt1,vip;hiit\nt2,"vip, hiit"\nt3,yoga|spin\n';
    const res = await csv(api, tenant.locA, text);
    expect(res.body).toMatchObject({ created: 2 });
    expect(res.body.rejected).toEqual([
      {
        row: 2,
        code: 'invalid_value',
        field: 'tags',
        reason: 'tags are separated by ";" in a CSV cell, not by "," (write vip;hiit)',
      },
    ]);
    const tags = (await api.get(`/api/locations/${tenant.locA}/contacts`)).body.data.map(
      (c: { tags: string[] }) => c.tags,
    );
    expect(tags).toEqual([
      ['hiit', 'vip'],
      ['spin', 'yoga'],
    ]);
  });

  test('the documented example file imports as its README says', async ({ api, tenant }) => {
    const text = readFileSync('examples/import/contacts.csv', 'utf8');
    const res = await csv(api, tenant.locA, text);
    expect(res.body).toMatchObject({ total: 4, created: 4, rejected: [] });
    const all = (await api.get(`/api/locations/${tenant.locA}/contacts`)).body.data;
    expect(all[0]).toMatchObject({
      tags: ['early-bird', 'vip'],
      canSms: true,
      canEmail: true,
      trialEndsAt: null,
    });
    expect(all[2]).toMatchObject({ firstName: 'Smith, Jr.', email: null });
    expect(all[3]).toMatchObject({ tags: ['spin', 'yoga'], canEmail: false, customFields: { belt: '007' } });
    expect((await csv(api, tenant.locA, text)).body).toMatchObject({ unchanged: 4 });
  });

  test('an unreadable CSV names the data row where reading stopped', async ({ api, tenant }) => {
    const broken = await csv(api, tenant.locA, 'externalId,firstName\nx,Ann\ny,"unclosed\n');
    expect(broken.status).toBe(400);
    expect(broken.body.error.message).toMatch(/^the CSV could not be read at data row 2: /);
  });

  test('deactivateMissing comes as a query parameter', async ({ api, tenant }) => {
    const old = await api.create(`/api/locations/${tenant.locA}/contacts`, { externalId: 'old' });
    const res = await csv(api, tenant.locA, 'externalId\nnew\n', '?deactivateMissing=true');
    expect(res.body).toMatchObject({ created: 1, deactivated: 1 });
    expect((await api.get(`/api/contacts/${old.contactId}`)).body.isActive).toBe(false);
  });
});
