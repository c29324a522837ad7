import { describe, expect } from 'vitest';
import { contactAt, receiverTest, subscribe } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import type { TestApi } from '../helpers/api.js';

// An endpoint's health (docs/api.md, "Endpoint health").

const health = async (api: TestApi, id: string, query = '', key?: string) =>
  api.get(`/api/subscriptions/${id}/health${query}`, key === undefined ? {} : { key });

describe('endpoint health', () => {
  receiverTest(
    'counts attempts by answer, with latency, in buckets of the window',
    async ({ api, db, tenant, receiver, worker: _worker }) => {
      const sub = await subscribe(api, tenant.keys.locAPartner, {
        url: receiver.url,
        locationId: tenant.locA,
        eventTypes: ['contact.created'],
      });
      // the first delivery fails once (500) and then succeeds; the second succeeds at once
      let calls = 0;
      receiver.answer((_r, res) => {
        calls += 1;
        res.statusCode = calls === 1 ? 500 : 200;
        res.end();
      });
      await contactAt(api, tenant.locA);
      await contactAt(api, tenant.locA);
      await closeAllWindows(db);
      await receiver.waitFor(3);
      const res = await waitFor(async () => {
        const h = await health(api, sub.id, '?window=1h', tenant.keys.locAPartner);
        return h.body.totals?.attempts === 3 ? h : undefined;
      }, 'three attempts recorded');

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ subscriptionId: sub.id, window: '1h', bucketSeconds: 60 });
      expect(res.body.totals).toMatchObject({
        attempts: 3,
        succeeded: 2,
        failed: 1,
        statusCodes: { '200': 2, '500': 1 },
      });
      expect(res.body.totals.p50Ms).toBeGreaterThanOrEqual(0);
      expect(res.body.totals.p99Ms).toBeGreaterThanOrEqual(res.body.totals.p50Ms);
      expect(res.body.buckets).toHaveLength(60);
      // the buckets add up to the totals, oldest first, a minute apart
      const sum = res.body.buckets.reduce((n: number, b: { attempts: number }) => n + b.attempts, 0);
      expect(sum).toBe(3);
      const starts = res.body.buckets.map((b: { start: string }) => Date.parse(b.start));
      expect(starts.slice(1).map((s: number, i: number) => s - starts[i])).toEqual(Array(59).fill(60_000));
      const empty = res.body.buckets.find((b: { attempts: number }) => b.attempts === 0);
      expect(empty).toMatchObject({ succeeded: 0, failed: 0, p50Ms: null, p99Ms: null, statusCodes: {} });

      const week = await health(api, sub.id, '?window=7d');
      expect(week.body.buckets).toHaveLength(168);
      expect(week.body.totals.attempts).toBe(3);
      const day = await health(api, sub.id);
      expect(day.body).toMatchObject({ window: '24h', bucketSeconds: 900 });
      expect(day.body.buckets).toHaveLength(96);
    },
  );

  receiverTest('an attempt without an answer is counted as timeout or error', async ({ api, db, tenant }) => {
    const sub = await subscribe(api, tenant.keys.orgStaff, {
      url: 'https://crm.example.com/hooks',
      locationId: tenant.locA,
    });
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO deliveries (id, subscription_id, test_payload, contact_id, status)
       VALUES ('dlv_00000000000000000000000000000001', $1, '{}', 0, 'failed') RETURNING id`,
      [sub.id],
    );
    await db.query(
      `INSERT INTO delivery_attempts (delivery_id, subscription_id, attempt, started_at, duration_ms, error, outcome)
       VALUES ($1, $2, 1, now(), 2000, 'timeout: no complete answer in time (TimeoutError)', 'retry'),
              ($1, $2, 2, now(), 3, 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9', 'failed')`,
      [rows[0]!.id, sub.id],
    );
    const res = await health(api, sub.id, '?window=1h');
    expect(res.body.totals).toMatchObject({
      attempts: 2,
      succeeded: 0,
      failed: 2,
      p99Ms: 1980,
      statusCodes: { timeout: 1, error: 1 },
    });
  });

  receiverTest("follows the subscription's visibility, and names a bad window", async ({ api, tenant }) => {
    const sub = await subscribe(api, tenant.keys.locAPartner, {
      url: 'https://crm.example.com/hooks',
      locationId: tenant.locA,
    });
    // another app's partner key, and another organization's staff: it does not exist for them
    expect((await health(api, sub.id, '', tenant.keys.orgPartner)).status).toBe(404);
    expect((await health(api, sub.id, '', tenant.keys.otherStaff)).status).toBe(404);
    // the gym's staff may read it
    expect((await health(api, sub.id, '', tenant.keys.locAStaff)).status).toBe(200);
    const bad = await health(api, sub.id, '?window=2h');
    expect(bad.status).toBe(400);
    expect(bad.body.error.field ?? bad.body.error.message).toMatch(/window/);
    const unknown = await health(api, sub.id, '?colour=red');
    expect(unknown.status).toBe(400);
  });
});
