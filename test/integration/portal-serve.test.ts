import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { operatorKeyFromToken } from '../../src/api/auth.js';
import { PORTAL_CSP } from '../../src/api/portal.js';
import { buildApi } from '../../src/api/server.js';
import { createLogger } from '../../src/log.js';
import { OPERATOR_KEY, testConfig } from '../helpers/api.js';
import { dbTest } from '../helpers/db.js';

// The portal's files as the service serves them, from a built folder made here.
const dirs: string[] = [];
function builtPortal(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fpt-portal-dist-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>portal</title>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const api = (db: Parameters<typeof buildApi>[0]['db'], portalDir: string) =>
  buildApi({
    db,
    config: testConfig(),
    operatorKey: operatorKeyFromToken(OPERATOR_KEY),
    logger: createLogger({ level: 'silent', format: 'json' }),
    portalDir,
  });

describe('serving the portal', () => {
  dbTest('the page for every client route, assets kept a year, a self-only CSP, no key', async ({ db }) => {
    const app = api(db, builtPortal());
    try {
      for (const url of ['/portal', '/portal/', '/portal/endpoints/sub_1', '/portal/sign-in?x=1']) {
        const page = await app.inject({ url });
        expect([url, page.statusCode, page.headers['content-type']]).toEqual([
          url,
          200,
          'text/html; charset=utf-8',
        ]);
        expect(page.body).toContain('<title>portal</title>');
        expect(page.headers['cache-control']).toBe('no-cache');
        expect(page.headers['content-security-policy']).toBe(PORTAL_CSP);
      }
      expect(PORTAL_CSP).toContain("default-src 'self'");
      expect(PORTAL_CSP).not.toMatch(/unsafe|\*|https?:/);
      const asset = await app.inject({ url: '/portal/assets/index-abc123.js' });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['content-security-policy']).toBe(PORTAL_CSP);
      const missing = await app.inject({ url: '/portal/assets/nope.js' });
      expect(missing.statusCode).toBe(404);
      expect(missing.headers['cache-control']).toBe('no-store');
      // the API's answers keep theirs, and the portal's routes are not in the OpenAPI document
      expect((await app.inject({ url: '/api/me' })).headers['cache-control']).toBe('no-store');
      const doc = (await app.inject({ url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/portal'))).toEqual([]);
    } finally {
      await app.close();
    }
  });

  dbTest('without a build, /portal says how to make one', async ({ db }) => {
    const app = api(db, join(tmpdir(), 'fpt-no-portal-here'));
    try {
      const res = await app.inject({ url: '/portal/endpoints' });
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain('npm run build');
      expect(res.headers['cache-control']).toBe('no-store');
    } finally {
      await app.close();
    }
  });
});
