import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { startService, type RunningService } from '../../src/service.js';
import { createTestDb, engine, type TestDb } from '../helpers/db.js';

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
  return { ...base, dataDir: dir };
}

async function start(config: Config) {
  const { log, lines } = capturingLogger();
  const svc: RunningService = await startService(config, log);
  cleanups.push(() => svc.close());
  return { svc, lines };
}

describe('the service', () => {
  test('serves health and readiness, and generates an operator key once that survives a restart', async () => {
    const config = await serviceConfig();
    const first = await start(config);
    expect((await fetch(`${first.svc.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${first.svc.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    const generated = first.lines.find((l) => typeof l.operatorKey === 'string')?.operatorKey as string;
    expect(generated).toMatch(/^fpt_admin_/);
    const org = await fetch(`${first.svc.url}/api/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${generated}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Kept' }),
    });
    expect(org.status).toBe(201);
    await first.svc.close();

    const second = await start(config);
    expect(second.lines.some((l) => 'operatorKey' in l)).toBe(false);
    const me = await fetch(`${second.svc.url}/api/me`, { headers: { authorization: `Bearer ${generated}` } });
    expect(await me.json()).toEqual({ kind: 'operator' });
  });

  test('FPT_ADMIN_TOKEN is the operator key when set, and nothing is generated', async () => {
    const config = { ...(await serviceConfig()), adminToken: 'a-long-operator-token-for-tests' };
    const { svc, lines } = await start(config);
    expect(lines.some((l) => 'operatorKey' in l)).toBe(false);
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
