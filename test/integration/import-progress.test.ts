import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { runImport } from '../../src/import-cli.js';
import { apiTest as test } from '../helpers/api.js';

const NDJSON = { accept: 'application/x-ndjson' };

describe('import progress', () => {
  test('asked for NDJSON, the import answers progress lines while it works, then the summary', async ({
    api,
    tenant,
  }) => {
    const contacts = Array.from({ length: 6000 }, (_, i) => ({ externalId: `p${i}` }));
    const res = await api.call('POST', `/api/locations/${tenant.locA}/contacts/import`, {
      body: { contacts: [...contacts, { contactGroupId: 12 }] },
      headers: NDJSON,
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/x-ndjson');
    const lines = (res.body as string)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.slice(0, -1)).toEqual([
      { progress: { phase: 'received', done: 6001, total: 6001 } },
      { progress: { phase: 'checking', done: 6001, total: 6001 } },
      { progress: { phase: 'writing', done: 5000, total: 6000 } },
      { progress: { phase: 'writing', done: 6000, total: 6000 } },
    ]);
    expect(lines.at(-1).summary).toMatchObject({ total: 6001, created: 6000, rejected: [{ row: 6001 }] });
  });

  test('a refusal before the work starts is still a plain 4xx error', async ({ api, tenant }) => {
    const res = await api.call('POST', `/api/locations/${tenant.locA}/contacts/import`, {
      body: { contacts: 'many' },
      headers: NDJSON,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_type', field: 'contacts' });
  });

  test('fpt-events import shows the upload, then the service-side progress, then the summary', async ({
    api,
    tenant,
  }) => {
    const dir = mkdtempSync(join(tmpdir(), 'fpt-import-'));
    try {
      const file = join(dir, 'contacts.csv');
      const rows = Array.from({ length: 7000 }, (_, i) => `x${i},"Name, ${i}",2`);
      writeFileSync(file, ['externalId,firstName,contactGroupId', ...rows, 'bad,Bad,nine'].join('\n'));
      const url = await api.app.listen({ port: 0, host: '127.0.0.1' });
      const progress: string[] = [];
      const out: string[] = [];
      const code = await runImport({
        file,
        location: tenant.locA,
        url,
        key: tenant.keys.locAStaff,
        deactivateMissing: false,
        progress: (l) => progress.push(l),
        out: (l) => out.push(l),
      });
      expect(code).toBe(3); // a row was rejected
      expect(progress[0]).toMatch(/^uploaded \d+%/);
      expect(progress).toContain('rows received by the service: 7,001 of 7,001 (100%)');
      expect(progress).toContain('rows checked: 7,001 of 7,001 (100%)');
      expect(progress).toContain('rows written: 5,000 of 7,000 (71%)');
      expect(progress.at(-1)).toBe('rows written: 7,000 of 7,000 (100%)');
      expect(out[0]).toMatch(
        /^7001 rows in [\d.]+ s: created 7000, updated 0, unchanged 0, deactivated 0, rejected 1$/,
      );
      expect(out[1]).toContain('row 7001');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
