import { lookup } from 'node:dns/promises';
import type { ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { describe, expect } from 'vitest';
import { isPublicAddress } from '../../src/delivery/ssrf.js';
import {
  contactAt,
  deliveries,
  receiverTest,
  startDeliveryWorker,
  subscribe,
  subscribeToCreations,
} from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';
import { Receiver } from '../helpers/receiver.js';

// The API accepts local http:// receivers (FPT_ALLOW_PRIVATE_URLS=1), as local testing needs.
const test = receiverTest;

describe('delivery', () => {
  test('an endpoint hanging until the timeout does not delay a healthy one', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    const hanging = await Receiver.start();
    hanging.answer(() => undefined); // never answers
    const worker = await startDeliveryWorker(db, { timeoutMs: 60_000, perSubscription: 4 });
    try {
      await subscribe(api, tenant.keys.orgPartner, { url: hanging.url, locationId: tenant.locA });
      await subscribe(api, tenant.keys.orgPartner, { url: receiver.url, locationId: tenant.locA });
      for (let i = 0; i < 20; i++) await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      // 20 contacts × created: all reach the healthy endpoint while the other holds its 4 requests open
      const got = await receiver.waitFor(20);
      expect(got).toHaveLength(20);
      expect(hanging.received.length).toBeLessThanOrEqual(4);
    } finally {
      await hanging.close();
      await worker.stop();
    }
  });

  test('an endpoint hanging on the same host as a healthy one does not delay it, even with more requests held than a pool would keep', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    // one server, two paths: the endpoints share an origin (two partners on one SaaS host), and the
    // hanging one fills its whole per-subscription cap (64) with requests that never end
    const hung: ServerResponse[] = [];
    receiver.answer((r, res) => {
      if (r.path === '/hang') hung.push(res);
      else res.writeHead(200).end();
    });
    const hangUrl = new URL('/hang', receiver.url).href;
    const worker = await startDeliveryWorker(db, { timeoutMs: 60_000 });
    try {
      await subscribe(api, tenant.keys.orgPartner, {
        url: hangUrl,
        locationId: tenant.locA,
        eventTypes: ['contact.created'],
      });
      await subscribeToCreations(api, tenant, receiver);
      const n = 100;
      const rows = Array.from({ length: n }, (_, i) => ({ firstName: `C${i}` }));
      const imported = await api.post(`/api/locations/${tenant.locA}/contacts/import`, { contacts: rows });
      expect(imported.status).toBe(200);
      await closeAllWindows(api.db);
      const healthy = await waitFor(async () => {
        const got = receiver.received.filter((r) => r.path !== '/hang');
        return got.length >= n ? got : undefined;
      }, `${n} deliveries to the healthy endpoint`);
      expect(new Set(healthy.map((r) => r.body.data.contactId)).size).toBe(n);
      const held = receiver.received.filter((r) => r.path === '/hang').length;
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(64);
    } finally {
      for (const res of hung) res.destroy();
      await worker.stop();
    }
  });

  test('at delivery time a host resolving to a private address is refused, against DNS rebinding', async ({
    db,
    api,
    tenant,
    receiver,
  }) => {
    // this machine's own name resolves to a loopback address (through /etc/hosts), like a rebinding name would
    const host = hostname();
    const { address } = await lookup(host);
    expect(isPublicAddress(address)).toBe(false);
    const strict = await startDeliveryWorker(db, { allowPrivateUrls: false });
    try {
      const sub = await subscribeToCreations(api, tenant, receiver);
      // as if the name resolved publicly when the subscription was checked
      await db.query('UPDATE subscriptions SET url = $2 WHERE id = $1', [
        sub.id,
        `https://${host}:${receiver.port}/hooks`,
      ]);
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      const [d] = await waitFor(async () => {
        const list = await deliveries(api, sub.id);
        return list[0]?.attemptLog.length ? list : undefined;
      }, 'the attempt');
      // the tenant is told the destination is not allowed, never what the name resolves to (#14)
      expect(d.attemptLog[0].error).toBe(
        'refused: the destination is not allowed (its host does not resolve to a public address)',
      );
      expect(receiver.received).toHaveLength(0);
    } finally {
      await strict.stop();
    }
  });
});
