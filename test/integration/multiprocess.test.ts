import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect } from 'vitest';
import { createTestApi, createTenant, testConfig } from '../helpers/api.js';
import { dbTest as test, engine } from '../helpers/db.js';
import { allEvents, waitFor } from '../helpers/events.js';
import { PROCESS_TEST_TIMEOUT_MS } from '../helpers/cli.js';

/** A real `fpt-events worker` process on the test's schema; resolves once it reports running. */
function startWorker(databaseUrl: string): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      FPT_COALESCE_QUIET_MS: '50',
      FPT_COALESCE_MAX_MS: '200',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('fpt-events worker is running')) resolve({ child, exited });
    });
    child.on('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

describe('several processes on one PostgreSQL', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  test.runIf(engine === 'postgres')(
    'two worker processes close every window exactly once, and stop cleanly on SIGTERM',
    async ({ testDb }) => {
      const url = new URL(process.env.FPT_TEST_DATABASE_URL!);
      url.searchParams.set('options', `-c search_path=${testDb.schema}`);
      const workers = await Promise.all([startWorker(url.toString()), startWorker(url.toString())]);
      const api = createTestApi(testDb.db, testConfig({ coalesce: { quietMs: 50, maxMs: 200 } }));
      try {
        const t = await createTenant(api);
        const ids: number[] = [];
        for (let i = 0; i < 150; i++) {
          ids.push((await api.create(`/api/locations/${t.locA}/contacts`, { contactGroupId: 2 })).contactId);
        }
        for (const id of ids.slice(0, 50)) await api.patch(`/api/contacts/${id}`, { contactGroupId: 3 });
        // 150 creations (created + status_changed each), and 50 later changes that may have landed in
        // the creation's window or opened a window of their own
        const events = await waitFor(async () => {
          const open = await testDb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM contact_windows');
          if (open.rows[0]!.n > 0) return undefined;
          return (await allEvents(api)).events;
        }, 'every window to close');
        expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
        const created = events.filter((e) => e.eventType === 'contact.created').map((e) => e.data.contactId);
        expect(created.sort((a, b) => a - b)).toEqual(ids);
        // each contact's group history ends at its final group, with no window emitted twice
        for (const id of ids) {
          const statuses = events.filter(
            (e) => e.eventType === 'contact.status_changed' && e.data.contactId === id,
          );
          expect(statuses.at(-1)!.data.newStatusId).toBe(ids.indexOf(id) < 50 ? 3 : 2);
          expect(statuses.length).toBeLessThanOrEqual(2);
        }
      } finally {
        for (const w of workers) w.child.kill('SIGTERM');
        expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
        await api.app.close();
      }
    },
  );
});
