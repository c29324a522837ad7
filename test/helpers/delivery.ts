import { DeliveryWorker } from '../../src/delivery/worker.js';
import type { DeliverySettings } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Db } from '../../src/store/db.js';
import { testConfig } from './api.js';

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
