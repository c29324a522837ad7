import { describe, expect } from 'vitest';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { startCoalescer } from '../../src/events/runner.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { apiTest, createTestApi, testConfig, type TestApi } from '../helpers/api.js';
import { deliverySettings } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import { Receiver } from '../helpers/receiver.js';
import { engine } from '../helpers/db.js';
import type { PgliteDb } from '../../src/store/pglite.js';

const METRICS_TOKEN = 'prometheus-scrape-token-0123';

// windows close as soon as they are due (quiet = max = 0), local receivers allowed
const config = () =>
  testConfig({
    delivery: deliverySettings(),
    metricsToken: METRICS_TOKEN,
    coalesce: { quietMs: 0, maxMs: 0 },
  });

/** The value of one series of the Prometheus text, e.g. `fpt_deliveries{status="pending"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(api: TestApi): Promise<string> {
  const res = await api.get('/metrics', { key: METRICS_TOKEN });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.body as string;
}

const test = apiTest.extend<{ metrics: Metrics; mapi: TestApi }>({
  // the API of a process with metrics, on the test's store
  metrics: async ({ db }, use) => {
    const m = new Metrics();
    m.watchStore(db);
    await use(m);
  },
  mapi: async ({ db, metrics }, use) => {
    const api = createTestApi(db, config(), metrics);
    await use(api);
    await api.app.close();
  },
});

describe('/metrics', () => {
  test('is read with the operator key or the metrics token, never with an API key or none', async ({
    mapi,
    tenant,
  }) => {
    expect((await mapi.get('/metrics')).status).toBe(200); // the operator key (the helper's default)
    expect((await mapi.get('/metrics', { key: METRICS_TOKEN })).status).toBe(200);
    for (const key of [null, tenant.keys.orgStaff, tenant.keys.orgPartner, 'not-the-token-0123456789']) {
      const res = await mapi.get('/metrics', { key });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
  });

  test('without metrics, the API has no /metrics', async ({ api }) => {
    expect((await api.get('/metrics')).status).toBe(404);
  });

  test('counts attempts by outcome, windows and events emitted, API requests by route, and reads the backlog from the store', async ({
    db,
    metrics,
    mapi,
    tenant,
  }) => {
    const receiver = await Receiver.start();
    // the first attempt fails (500): one retry, then successes
    let calls = 0;
    receiver.answer((_r, res) => {
      res.writeHead(calls++ === 0 ? 500 : 200).end();
    });
    const log = createLogger('silent');
    const worker = new DeliveryWorker(db, deliverySettings(), log, { metrics });
    await worker.start();
    const coalescer = await startCoalescer(db, log, worker, metrics);
    try {
      const sub = await mapi.create(
        '/api/subscriptions',
        { url: receiver.url, locationId: tenant.locA, eventTypes: ['contact.created'] },
        tenant.keys.orgPartner,
      );
      for (let i = 0; i < 2; i++) await mapi.create(`/api/locations/${tenant.locA}/contacts`, {});
      await receiver.waitFor(3);
      // The outcomes are written a moment after the answers: wait for the store to agree. A scrape
      // is not one instant: the worker's in-flight count is read as it starts and the store's
      // figures when the store answers, so the last request's outcome can be in the store while the
      // same scrape still counts it in flight. Wait for both (a request never let go times out).
      const text = await waitFor(async () => {
        const t = await scrape(mapi);
        const unfinished =
          sample(t, 'fpt_deliveries{status="sending"}')! +
          sample(t, 'fpt_deliveries{status="pending"}')! +
          sample(t, 'fpt_delivery_requests_in_flight')!;
        return unfinished === 0 ? t : undefined;
      }, 'every outcome to be written and every request let go');
      expect(sample(text, 'fpt_delivery_attempts_total{outcome="succeeded"}')).toBe(2);
      expect(sample(text, 'fpt_delivery_attempts_total{outcome="retry"}')).toBe(1);
      expect(sample(text, 'fpt_delivery_attempt_duration_seconds_count')).toBe(3);
      expect(sample(text, 'fpt_windows_closed_total')).toBe(2);
      expect(sample(text, 'fpt_events_emitted_total{type="contact.created"}')).toBe(2);
      expect(
        sample(
          text,
          'fpt_http_request_duration_seconds_count{method="POST",route="/api/locations/:locationId/contacts",status_code="201"}',
        ),
      ).toBe(2);
      expect(sample(text, 'fpt_subscriptions{status="active"}')).toBe(1);
      expect(sample(text, 'fpt_delivery_lag_seconds')).toBe(0);
      expect(sample(text, 'fpt_windows_open')).toBe(0);
      expect(sample(text, 'fpt_store_up')).toBe(1);
      // the Node.js runtime's own
      expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
      expect(sub.id).toMatch(/^sub_/);
    } finally {
      await coalescer.stop();
      await worker.stop();
      await receiver.close();
    }
  });

  test('shows a backlog nobody sends: pending deliveries, how long the oldest has been due, open windows', async ({
    db,
    mapi,
    tenant,
  }) => {
    // no worker runs: deliveries wait
    await mapi.create(
      '/api/subscriptions',
      { url: 'http://127.0.0.1:9999/hooks', locationId: tenant.locA },
      tenant.keys.orgPartner,
    );
    for (let i = 0; i < 3; i++) await mapi.create(`/api/locations/${tenant.locA}/contacts`, {});
    expect(sample(await scrape(mapi), 'fpt_windows_open')).toBe(3);
    await closeAllWindows(db);
    await db.query(`UPDATE deliveries SET next_attempt_at = now() - interval '1 hour'`);
    const text = await scrape(mapi);
    expect(sample(text, 'fpt_deliveries{status="pending"}')).toBe(3);
    expect(sample(text, 'fpt_delivery_lag_seconds')).toBeGreaterThanOrEqual(3600);
    expect(sample(text, 'fpt_windows_open')).toBe(0);
  });

  test.runIf(engine === 'pglite')(
    "the embedded engine's memory: its WebAssembly memory and PostgreSQL's memory contexts by name",
    async ({ db }) => {
      const metrics = new Metrics();
      metrics.watchEmbeddedEngine(db as PgliteDb);
      const text = await metrics.text();
      // PGlite's module asks for 128 MB at start (2,048 pages of 64 kB)
      expect(sample(text, 'fpt_embedded_wasm_memory_bytes')).toBeGreaterThanOrEqual(128 * 1024 * 1024);
      expect(sample(text, 'fpt_embedded_pg_memory_bytes{context="TopMemoryContext"}')).toBeGreaterThan(0);
      expect(sample(text, 'fpt_embedded_pg_memory_bytes{context="CacheMemoryContext"}')).toBeGreaterThan(0);
    },
  );
});
