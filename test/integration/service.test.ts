import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { startService, type RunningService } from '../../src/service.js';
import { openDb } from '../../src/store/open.js';
import type { ContactEvent } from '../../src/domain/events.js';
import { Webhook } from 'standardwebhooks';
import { parseSecretsKeys, SecretBox } from '../../src/delivery/secret-box.js';
import { SEALING_KEY_FILE } from '../../src/secrets-at-rest.js';
import type { Db } from '../../src/store/db.js';
import { resealSecrets } from '../../src/store/subscriptions.js';
import { createTestDb, engine, type TestDb } from '../helpers/db.js';
import { Receiver } from '../helpers/receiver.js';
import { seededDataDir } from '../helpers/embedded-data-dir.js';

/** A logger that keeps its JSON lines for the test to read. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Service config on the engine under test: an embedded data folder, or DATABASE_URL on an own schema. */
async function serviceConfig(): Promise<Config> {
  const base = loadConfig({ PORT: '0', HOST: '127.0.0.1' });
  if (engine === 'postgres') {
    const t: TestDb = await createTestDb({ migrate: false });
    cleanups.push(() => t.drop());
    const url = new URL(process.env.FPT_TEST_DATABASE_URL!);
    url.searchParams.set('options', `-c search_path=${t.schema}`);
    return { ...base, databaseUrl: url.toString() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'fpt-service-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { ...base, dataDir: await seededDataDir(join(dir, 'data')) };
}

async function start(config: Config) {
  const { log, lines } = capturingLogger();
  const terminal: string[] = [];
  const svc: RunningService = await startService(config, log, { showOnce: (text) => terminal.push(text) });
  cleanups.push(() => svc.close());
  return { svc, lines, terminal };
}

describe('the service', () => {
  test('serves health and readiness, and generates an operator key once that survives a restart', async () => {
    const config = await serviceConfig();
    const first = await start(config);
    expect((await fetch(`${first.svc.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${first.svc.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    // shown once on the terminal, never in the log stream, which says only that one was generated (#14)
    const generated = /fpt_admin_[A-Za-z0-9_-]{43}/.exec(first.terminal.join(''))?.[0] as string;
    expect(generated).toMatch(/^fpt_admin_/);
    expect(JSON.stringify(first.lines)).not.toContain(generated);
    expect(
      first.lines.some((l) => /operator key was generated.*reset-operator-key/.test(String(l.msg))),
    ).toBe(true);
    const org = await fetch(`${first.svc.url}/api/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${generated}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Kept' }),
    });
    expect(org.status).toBe(201);
    await first.svc.close();

    const second = await start(config);
    expect(second.terminal).toEqual([]);
    const me = await fetch(`${second.svc.url}/api/me`, { headers: { authorization: `Bearer ${generated}` } });
    expect(await me.json()).toMatchObject({ kind: 'operator', session: null });
  });

  test('FPT_ADMIN_TOKEN is the operator key when set, and nothing is generated', async () => {
    const config = { ...(await serviceConfig()), adminToken: 'a-long-operator-token-for-tests' };
    const { svc, terminal } = await start(config);
    expect(terminal).toEqual([]);
    const me = await fetch(`${svc.url}/api/me`, {
      headers: { authorization: 'Bearer a-long-operator-token-for-tests' },
    });
    expect(me.status).toBe(200);
  });

  test('readiness fails once the store is gone, while liveness still answers', async () => {
    const { svc } = await start(await serviceConfig());
    await svc.db.close();
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  });
});

// Found by the security review (#14): signing secrets were stored in clear unless FPT_SECRETS_KEY
// was set, with no warning.
describe('signing secrets at rest', () => {
  const admin = 'a-long-operator-token-for-tests';
  /** A subscription made through the running service's API: its id and its secret (shown once). */
  async function subscribe(url: string): Promise<{ id: string; secret: string }> {
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    const org = await post('/api/organizations', { name: 'Sealed' });
    const loc = await post('/api/locations', { name: 'Here', organizationId: org.id });
    const sub = await post('/api/subscriptions', {
      url: 'https://partner.example.com/hooks',
      locationId: loc.id,
    });
    return sub as { id: string; secret: string };
  }
  const storedSecret = async (db: Db, id: string) =>
    (await db.query<{ secret: string }>('SELECT secret FROM subscriptions WHERE id = $1', [id])).rows[0]!
      .secret;

  test.runIf(engine === 'pglite')(
    'the embedded store seals them with a key it generates on the first start, kept owner-only in its data folder',
    async () => {
      const config = { ...(await serviceConfig()), adminToken: admin };
      expect(config.delivery.secretsKeys).toBeUndefined();
      const first = await start(config);
      const file = join(config.dataDir, SEALING_KEY_FILE);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const keyText = readFileSync(file, 'utf8');
      const box = new SecretBox(parseSecretsKeys(keyText.trim()));
      const sub = await subscribe(first.svc.url);
      const stored = await storedSecret(first.svc.db, sub.id);
      expect(stored).toMatch(/^fptenc:v2:/);
      expect(box.open(stored, sub.id)).toBe(sub.secret);
      // one kept in clear (from before this) is sealed at the next start, with the same key
      await first.svc.db.query('UPDATE subscriptions SET secret = $2 WHERE id = $1', [sub.id, sub.secret]);
      await first.svc.close();
      const second = await start(config);
      expect(readFileSync(file, 'utf8')).toBe(keyText);
      const resealed = await storedSecret(second.svc.db, sub.id);
      expect(resealed).toMatch(/^fptenc:v2:/);
      expect(box.open(resealed, sub.id)).toBe(sub.secret);
    },
  );

  test.runIf(engine === 'postgres')(
    'on PostgreSQL every start warns while they are stored in clear, until they are sealed',
    async () => {
      const base = { ...(await serviceConfig()), adminToken: admin };
      const warned = (lines: Record<string, unknown>[]) =>
        lines.filter((l) => l.level === 40 && /stored in clear/.test(String(l.msg)));
      const first = await start(base);
      expect(warned(first.lines)).toEqual([expect.objectContaining({ clearSecrets: 0 })]);
      await subscribe(first.svc.url);
      await first.svc.close();
      const again = await start(base);
      expect(warned(again.lines)).toEqual([expect.objectContaining({ clearSecrets: 1 })]);
      await again.svc.close();
      const keys = [randomBytes(32)];
      const sealing = { ...base, delivery: { ...base.delivery, secretsKeys: keys } };
      const keyed = await start(sealing);
      expect(warned(keyed.lines)).toEqual([
        expect.objectContaining({ clearSecrets: 1, msg: expect.stringMatching(/seal-secrets/) }),
      ]);
      const box = new SecretBox(keys);
      expect(await resealSecrets(keyed.svc.db, (stored, id) => box.reseal(stored, id))).toBe(1);
      await keyed.svc.close();
      expect(warned((await start(sealing)).lines)).toEqual([]);
    },
  );
});

describe('the whole service', () => {
  test('a partner subscribes, receives verified events, and shutdown drains a delivery in flight', async () => {
    const base = await serviceConfig();
    const config = {
      ...base,
      adminToken: 'a-long-operator-token-for-tests',
      // quiet long enough that the three writes below fall into one window even on a loaded machine
      coalesce: { quietMs: 1000, maxMs: 5000 },
      delivery: { ...base.delivery, allowPrivateUrls: true, retryScheduleMs: [100] },
    };
    const receiver = await Receiver.start();
    cleanups.push(() => receiver.close());
    const { svc } = await start(config);
    const call = async (key: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${svc.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON off the wire, asserted on below
      return (await res.json()) as any;
    };
    const admin = 'a-long-operator-token-for-tests';
    const org = await call(admin, 'POST', '/api/organizations', { name: 'E2E' });
    const loc = await call(admin, 'POST', '/api/locations', { name: 'Here', organizationId: org.id });
    const staff = (await call(admin, 'POST', '/api/api-keys', { role: 'staff', locationId: loc.id })).key;
    const partner = (await call(admin, 'POST', '/api/api-keys', { role: 'partner', locationId: loc.id })).key;
    const sub = await call(partner, 'POST', '/api/subscriptions', { url: receiver.url });
    const c = await call(staff, 'POST', `/api/locations/${loc.id}/contacts`, { firstName: 'Eve' });
    await call(staff, 'PATCH', `/api/contacts/${c.contactId}`, { contactGroupId: 2 });
    await call(staff, 'PATCH', `/api/contacts/${c.contactId}`, { contactGroupId: 3 });

    // coalesced: created, status 1 → 3, updated; verified with the public Standard Webhooks library
    const got = await receiver.waitFor(3);
    const wh = new Webhook(sub.secret);
    const events = got.map((r) => wh.verify(r.raw, r.headers as Record<string, string>) as ContactEvent);
    expect(events.map((e) => e.eventType)).toEqual([
      'contact.created',
      'contact.status_changed',
      'contact.updated',
    ]);
    expect(events[1]!.data).toEqual({ contactId: c.contactId, previousStatusId: 1, newStatusId: 3 });

    // a slow answer is in flight when the service is told to stop: it finishes and is recorded
    let release: () => void = () => undefined;
    receiver.answer((_r, res) => {
      release = () => res.writeHead(200).end();
    });
    await call(staff, 'PATCH', `/api/contacts/${c.contactId}`, { lastName: 'Later' });
    await receiver.waitFor(4);
    const closing = svc.close();
    setImmediate(() => release());
    await closing;
    // the store, opened again as the next start would: the drained delivery was recorded
    const db = await openDb(config);
    try {
      const { rows } = await db.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM deliveries GROUP BY status`,
      );
      expect(rows).toEqual([{ status: 'succeeded', n: 4 }]);
    } finally {
      await db.close();
    }
  });
});

/** Runs a command to its end without blocking this process; resolves to its status and output. */
function run(
  cmd: string,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ status: err ? (child.exitCode ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('fpt-events import', () => {
  test('streams a CSV file to the running service, shows progress, and reports the rows', async () => {
    const config = { ...(await serviceConfig()), adminToken: 'a-long-operator-token-for-tests' };
    const { svc } = await start(config);
    const post = async (path: string, body: unknown) =>
      (await (
        await fetch(`${svc.url}${path}`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer a-long-operator-token-for-tests',
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        })
      ).json()) as { id: number; key: string };
    const loc = await post('/api/locations', { name: 'Imported' });
    const staff = await post('/api/api-keys', { role: 'staff', locationId: loc.id });
    const dir = mkdtempSync(join(tmpdir(), 'fpt-import-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'contacts.csv');
    writeFileSync(
      file,
      'externalId,firstName,contactGroupId\na1,Ann,2\na2,"Bo, the second",3\na3,Bad,nine\n',
    );
    // asynchronously: the service answering the command runs in this very process
    const res = await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli.ts',
      'import',
      file,
      '--location',
      String(loc.id),
      '--url',
      svc.url,
      '--key',
      staff.key,
    ]);
    expect(res.stderr).toContain('uploaded 100%');
    expect(res.stdout).toContain('created 2, updated 0, unchanged 0, deactivated 0, rejected 1');
    expect(res.stdout).toContain('row 3:');
    expect(res.status).toBe(3);
    const list = await fetch(`${svc.url}/api/locations/${loc.id}/contacts`, {
      headers: { authorization: `Bearer ${staff.key}` },
    });
    const names = ((await list.json()) as { data: { firstName: string }[] }).data.map((c) => c.firstName);
    expect(names.sort()).toEqual(['Ann', 'Bo, the second']);
  });
});
