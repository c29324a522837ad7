import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { signatureHeaders } from '../../src/delivery/signing.js';

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });

/**
 * The SDK README's install line, as a partner follows it: `npm pack` in sdk/ (which builds it),
 * then `npm install <tarball>` in a project of their own outside this repository, and a delivery
 * verified through the installed package. Offline: the SDK's runtime dependencies (typebox, openapi-fetch
 * and its helpers) are installed from this repository's copies, packed, so nothing is fetched.
 */
describe('the SDK as a package', () => {
  test('npm pack builds a tarball that installs in a fresh project and verifies a delivery', () => {
    const work = mkdtempSync(join(tmpdir(), 'fpt-sdk-pack-'));
    try {
      npm(['pack', '--pack-destination', work], resolve('sdk'));
      // its runtime dependencies, packed from this repository's copies
      const dependencies = ['typebox', 'openapi-fetch', 'openapi-typescript-helpers'];
      for (const dep of dependencies)
        npm(['pack', '--pack-destination', work], resolve(`node_modules/${dep}`));
      const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'));
      const sdk = tarballs.find((f) => f.startsWith('fpt-webhooks-'));
      const deps = dependencies.map((dep) => tarballs.find((f) => f.startsWith(`${dep}-`))!);
      expect(sdk).toMatch(/^fpt-webhooks-\d+\.\d+\.\d+\.tgz$/);

      const app = join(work, 'partner-app');
      mkdirSync(app);
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'partner-app', private: true, type: 'module' }),
      );
      npm(['install', '--offline', join(work, sdk!), ...deps.map((d) => join(work, d))], app);

      const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
      const event = {
        eventId: 'ab'.repeat(16),
        eventType: 'contact.status_changed',
        eventTimestamp: '2026-06-10T23:45:00.123Z',
        locationId: 4,
        organizationId: 2,
        apiVersion: 'v1',
        data: { contactId: 77, previousStatusId: 3, newStatusId: 4 },
      };
      const body = JSON.stringify(event);
      const headers = signatureHeaders({
        eventId: event.eventId,
        body,
        timestamp: Math.floor(Date.now() / 1000),
        secrets: [secret],
      });
      writeFileSync(
        join(app, 'check.mjs'),
        `import { Webhooks, contactGroupName, createFptClient } from '@fpt/webhooks';
if (typeof createFptClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k' }).GET !== 'function') throw new Error('no API client');
const webhooks = new Webhooks({ secret: process.env.SECRET });
const { event } = webhooks.verify(process.env.BODY, JSON.parse(process.env.HEADERS));
console.log(event.eventType, contactGroupName(event.data.newStatusId));
let forged = 'verified';
try { webhooks.verify(process.env.BODY.replace('77', '78'), JSON.parse(process.env.HEADERS)); } catch (e) { forged = e.name; }
console.log(forged);
`,
      );
      const printed = execFileSync(process.execPath, ['check.mjs'], {
        cwd: app,
        encoding: 'utf8',
        env: { ...process.env, SECRET: secret, BODY: body, HEADERS: JSON.stringify(headers) },
      });
      expect(printed).toBe('contact.status_changed Past Members\nWebhookVerificationError\n');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});
