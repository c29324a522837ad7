import { DeliveryWorker } from '../../src/delivery/worker.js';
import type { Config, DeliverySettings } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Db } from '../../src/store/db.js';
import { apiTest, testConfig, type TestApi, type Tenant } from './api.js';
import { waitFor } from './events.js';
import { Receiver } from './receiver.js';

/** Delivery settings for tests: local receivers allowed, a short schedule and timeout. */
export function deliverySettings(over: Partial<DeliverySettings> = {}): DeliverySettings {
  return {
    ...testConfig().delivery,
    allowPrivateUrls: true,
    retryScheduleMs: [100, 200],
    timeoutMs: 2000,
    ...over,
  };
}

/** A running delivery worker on the test's store; stop it at the end of the test. */
export async function startDeliveryWorker(
  db: Db,
  over: Partial<DeliverySettings> = {},
): Promise<DeliveryWorker> {
  const w = new DeliveryWorker(db, deliverySettings(over), createLogger('silent'));
  await w.start();
  return w;
}

/**
 * `apiTest` whose API accepts local http:// receivers (as `FPT_ALLOW_PRIVATE_URLS=1` does), with a
 * delivery `worker` on the test's store, started for the tests that name it.
 */
export const deliveryTest = apiTest.extend<{ apiConfig: Config; worker: DeliveryWorker }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  apiConfig: async ({}, use) => {
    await use(testConfig({ delivery: deliverySettings() }));
  },
  worker: async ({ db }, use) => {
    const w = await startDeliveryWorker(db);
    await use(w);
    await w.stop();
  },
});

/** `deliveryTest` with a partner endpoint, a real local HTTP server, as `receiver`. */
export const receiverTest = deliveryTest.extend<{ receiver: Receiver }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  receiver: async ({}, use) => {
    const r = await Receiver.start();
    await use(r);
    await r.close();
  },
});

/** Subscribes with `key`, and answers the subscription's id and secret. */
export async function subscribe(api: TestApi, key: string, body: object) {
  const res = await api.post('/api/subscriptions', body, { key });
  if (res.status !== 201) throw new Error(`subscribe → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; secret: string };
}

/**
 * A partner's subscription to every event at location A, at a public endpoint nothing answers: for
 * tests that read the queue and the API's answers, not what arrives.
 */
export const subscribeToAllAtA = (api: TestApi, tenant: Tenant) =>
  subscribe(api, tenant.keys.orgPartner, { url: 'https://crm.example.com/hooks', locationId: tenant.locA });

/** A partner's subscription to contact.created at location A, the common case. */
export const subscribeToCreations = (api: TestApi, tenant: Tenant, receiver: Receiver) =>
  subscribe(api, tenant.keys.orgPartner, {
    url: receiver.url,
    locationId: tenant.locA,
    eventTypes: ['contact.created'],
  });

/** Creates a contact at `loc` and answers its id. */
export const contactAt = async (api: TestApi, loc: number, body: object = {}) =>
  (await api.create(`/api/locations/${loc}/contacts`, body)).contactId as number;

/** A subscription's deliveries, newest first, as the API lists them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON off the wire, asserted on by the tests
export async function deliveries(api: TestApi, subId: string, query = ''): Promise<any[]> {
  const res = await api.get(`/api/subscriptions/${subId}/deliveries?limit=200${query}`);
  if (res.status !== 200) throw new Error(`deliveries: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}

/** Waits until exactly `n` of the subscription's deliveries have `status`, and returns them. */
export function waitForDeliveries(api: TestApi, subId: string, status: string, n: number, what: string) {
  return waitFor(async () => {
    const list = await deliveries(api, subId, `&status=${status}`);
    return list.length === n ? list : undefined;
  }, what);
}

/** Waits until the subscription is disabled, and answers it. */
export const disabledSubscription = (api: TestApi, id: string) =>
  waitFor(async () => {
    const body = (await api.get(`/api/subscriptions/${id}`)).body;
    return body.status === 'disabled' ? body : undefined;
  }, 'the subscription to be disabled');
