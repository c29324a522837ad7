import { createServer } from 'node:net';
import type { ServerResponse } from 'node:http';
import { describe, expect } from 'vitest';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { createLogger } from '../../src/log.js';
import type { TestApi, Tenant } from '../helpers/api.js';
import {
  contactAt,
  deliverySettings,
  receiverTest,
  subscribe,
  waitForDeliveries,
} from '../helpers/delivery.js';
import { closeAllWindows, waitFor } from '../helpers/events.js';

// What a delivery worker keeps per subscription (its measured pace, its adapted cap on requests in
// flight, when it last noted a success) must not outlive the subscription: a long-running process
// sees many subscriptions created and deleted.
const test = receiverTest;

/** A local URL where nothing listens: every attempt is refused (an unanswered request). */
async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hooks`;
}

const subscribeTo = async (api: TestApi, tenant: Tenant, url: string, locationId = tenant.locA) =>
  (
    await subscribe(api, tenant.keys.orgPartner, {
      url,
      locationId,
      eventTypes: ['contact.created'],
    })
  ).id;

/** Waits until the worker holds no chain (its outcomes are written by then: see the callers). */
const nothingHeld = (worker: DeliveryWorker) =>
  waitFor(
    async () => (worker.remembered().holding.length === 0 ? true : undefined),
    'the worker to hold nothing',
  );

const sorted = (...ids: string[]) => [...ids].sort();

describe("the delivery worker's state per subscription", () => {
  test('is forgotten once the subscription is deleted, disabled or paused, and kept while it is active', async ({
    api,
    tenant,
    receiver,
    worker,
  }) => {
    const [deleted, disabled, paused, active] = [
      await subscribeTo(api, tenant, receiver.url),
      await subscribeTo(api, tenant, receiver.url),
      await subscribeTo(api, tenant, receiver.url),
      await subscribeTo(api, tenant, receiver.url),
    ];
    const refused = await refusingUrl();
    const [deletedRefused, activeRefused] = [
      await subscribeTo(api, tenant, refused),
      await subscribeTo(api, tenant, refused),
    ];
    await contactAt(api, tenant.locA);
    await closeAllWindows(api.db);
    for (const id of [deleted, disabled, paused, active])
      await waitForDeliveries(api, id, 'succeeded', 1, 'the delivery to succeed');
    for (const id of [deletedRefused, activeRefused])
      await waitForDeliveries(api, id, 'failed', 1, 'the refused delivery to fail');
    await nothingHeld(worker);

    expect(worker.remembered()).toEqual({
      paces: sorted(deleted, disabled, paused, active, deletedRefused, activeRefused),
      caps: sorted(deletedRefused, activeRefused),
      successes: sorted(deleted, disabled, paused, active),
      holding: [],
    });

    const key = tenant.keys.orgPartner;
    expect((await api.delete(`/api/subscriptions/${deleted}`, { key })).status).toBe(204);
    expect((await api.delete(`/api/subscriptions/${deletedRefused}`, { key })).status).toBe(204);
    expect((await api.patch(`/api/subscriptions/${disabled}`, { status: 'disabled' }, { key })).status).toBe(
      200,
    );
    expect((await api.patch(`/api/subscriptions/${paused}`, { status: 'paused' }, { key })).status).toBe(200);

    expect(await worker.forgetNow()).toBe(4);
    expect(worker.remembered()).toEqual({
      paces: sorted(active, activeRefused),
      caps: [activeRefused],
      successes: [active],
      holding: [],
    });
  });

  test('of an idle subscription is forgotten, except its adapted cap, and never while the worker holds its chains', async ({
    api,
    tenant,
    receiver,
    db,
  }) => {
    // a worker that calls a subscription idle as soon as it holds nothing of it
    const worker = new DeliveryWorker(db, deliverySettings(), createLogger('silent'), { forgetIdleMs: 0 });
    await worker.start();
    try {
      const idle = await subscribeTo(api, tenant, receiver.url);
      // (at another location: the contact created later for `idle` is not sent to it)
      const refusing = await subscribeTo(api, tenant, await refusingUrl(), tenant.locB);
      await contactAt(api, tenant.locA);
      await contactAt(api, tenant.locB);
      await closeAllWindows(api.db);
      await waitForDeliveries(api, idle, 'succeeded', 1, 'the delivery to succeed');
      await waitForDeliveries(api, refusing, 'failed', 1, 'the refused delivery to fail');
      await nothingHeld(worker);
      expect(worker.remembered().paces).toEqual(sorted(idle, refusing));

      // the next delivery is held by the endpoint: the subscription is not idle meanwhile
      let answer: ServerResponse | undefined;
      receiver.answer((_r, res) => {
        answer = res;
      });
      const before = receiver.received.length;
      await contactAt(api, tenant.locA);
      await closeAllWindows(api.db);
      await receiver.waitFor(before + 1);
      expect(worker.remembered().holding).toEqual([idle]);
      // the refusing subscription's pace goes, its adapted cap stays (its retries are hours apart)
      expect(await worker.forgetNow()).toBe(1);
      expect(worker.remembered()).toEqual({
        paces: [idle],
        caps: [refusing],
        successes: [idle],
        holding: [idle],
      });

      answer!.writeHead(200).end('ok');
      await waitForDeliveries(api, idle, 'succeeded', 2, 'the held delivery to succeed');
      await nothingHeld(worker);
      expect(await worker.forgetNow()).toBe(1);
      expect(worker.remembered()).toEqual({ paces: [], caps: [refusing], successes: [], holding: [] });
    } finally {
      await worker.stop();
    }
  });
});
