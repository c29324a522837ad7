import { describe, expect } from 'vitest';
import type { TestApi } from '../helpers/api.js';
import { deliveryTest, startDeliveryWorker } from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import { Receiver } from '../helpers/receiver.js';

const test = deliveryTest.extend<{ receiver: Receiver; hanging: Receiver }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  receiver: async ({}, use) => {
    const r = await Receiver.start();
    await use(r);
    await r.close();
  },
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  hanging: async ({}, use) => {
    const r = await Receiver.start();
    r.answer(() => undefined); // accepts, reads, never answers
    await use(r);
    await r.close();
  },
});

async function subscribe(api: TestApi, key: string, body: object): Promise<string> {
  const res = await api.post('/api/subscriptions', body, { key });
  if (res.status !== 201) throw new Error(`subscribe → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

async function importContacts(api: TestApi, loc: number, n: number, prefix: string): Promise<void> {
  const contacts = Array.from({ length: n }, (_, i) => ({ firstName: `${prefix}${i}` }));
  const res = await api.post(`/api/locations/${loc}/contacts/import`, { contacts });
  if (res.status !== 200) throw new Error(`import → ${res.status} ${JSON.stringify(res.body)}`);
}

describe('fair delivery between tenants', () => {
  test("an organization's eight hanging subscriptions and their backlog do not hold up another organization's deliveries", async ({
    db,
    api,
    tenant,
    receiver,
    hanging,
  }) => {
    // X (the tenant's organization): eight subscriptions to an endpoint that never answers, and a
    // backlog queued before anything of Y's; Y (the other organization): one healthy subscription
    for (let i = 0; i < 8; i++)
      await subscribe(api, tenant.keys.orgPartner, {
        url: new URL(`/x${i}`, hanging.url).href,
        locationId: tenant.locA,
        eventTypes: ['contact.created'],
      });
    await subscribe(api, tenant.keys.otherStaff, {
      url: receiver.url,
      locationId: tenant.otherLoc,
      eventTypes: ['contact.created'],
    });
    await importContacts(api, tenant.locA, 150, 'X'); // 1,200 deliveries to X's endpoint
    await closeAllWindows(api.db);
    await importContacts(api, tenant.otherLoc, 30, 'Y');
    await closeAllWindows(api.db);

    // eight slots in all, of which X alone could take every one (its cap and each subscription's
    // are the process's); requests to X's endpoint never end while the test runs
    const worker = await startDeliveryWorker(db, {
      concurrency: 8,
      perOrganization: 8,
      perSubscription: 8,
      timeoutMs: 120_000,
    });
    try {
      const got = await receiver.waitFor(30);
      // every one of Y's deliveries went out, each contact once, while X's requests were all hanging
      expect(new Set(got.map((r) => r.body.data.contactId)).size).toBe(30);
      expect(hanging.received.length).toBeGreaterThan(0);
      // the slots were shared: when Y's first delivery arrived X held no more than its share (half)
      const firstY = got[0]!.at;
      expect(hanging.received.filter((r) => r.at <= firstY).length).toBeLessThanOrEqual(4);
      // and X never held more than the eight slots, however large its backlog
      expect(hanging.received.length).toBeLessThanOrEqual(8);
    } finally {
      await hanging.close();
      await worker.stop();
    }
  });

  test('an endpoint that keeps timing out is sent one request at a time, its deliveries kept on their retry schedule', async ({
    db,
    api,
    tenant,
    hanging,
  }) => {
    const sub = await subscribe(api, tenant.keys.orgPartner, {
      url: hanging.url,
      locationId: tenant.locA,
      eventTypes: ['contact.created'],
    });
    await importContacts(api, tenant.locA, 40, 'T');
    await closeAllWindows(api.db);
    const worker = await startDeliveryWorker(db, {
      concurrency: 64,
      perSubscription: 16,
      timeoutMs: 300,
      retryScheduleMs: [60_000],
    });
    try {
      // the first wave: 16 requests at once, all timing out; each timeout halves the cap (16, 8, 4,
      // 2, 1), so once the wave is over the attempts go one at a time
      const attempts = await waitFor(async () => {
        const { rows } = await api.db.query<{ started_at: Date; duration_ms: number; outcome: string }>(
          `SELECT a.started_at, a.duration_ms, a.outcome FROM delivery_attempts a
           JOIN deliveries d ON d.id = a.delivery_id WHERE d.subscription_id = $1 ORDER BY a.started_at`,
          [sub],
        );
        return rows.length >= 20 ? rows : undefined;
      }, 'twenty attempts at the hanging endpoint');
      expect(attempts.every((a) => a.outcome === 'retry')).toBe(true);
      const after = attempts.slice(16);
      for (let i = 1; i < after.length; i++) {
        // (the log keeps whole milliseconds: one of rounding)
        const prevEnd = +after[i - 1]!.started_at + after[i - 1]!.duration_ms;
        expect(+after[i]!.started_at).toBeGreaterThanOrEqual(prevEnd - 1);
      }
      // nothing dropped or failed: each attempted delivery waits for its retry, the rest are queued
      const { rows } = await api.db.query<{ status: string; attempts: number }>(
        `SELECT status, attempts FROM deliveries WHERE subscription_id = $1`,
        [sub],
      );
      expect(rows).toHaveLength(40);
      expect(rows.every((r) => r.status === 'pending' || r.status === 'sending')).toBe(true);
    } finally {
      await hanging.close();
      await worker.stop();
    }
  });
});
