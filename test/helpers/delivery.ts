import { DeliveryWorker } from '../../src/delivery/worker.js';
import type { Config, DeliverySettings } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Db } from '../../src/store/db.js';
import { apiTest, testConfig } from './api.js';

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
