/**
 * The delivery side of the data-scale benchmark (`data-scale.ts`): a location of its own with one
 * subscription to the local receiver, a writer of its contacts, and the delivery throughput from a
 * burst of their writes (closing, fan-out, claim, send, completion: the service's whole path).
 */
import { loadConfig } from '../src/config.js';
import { generateSecret } from '../src/delivery/signing.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import type { startMaintenance } from '../src/events/maintenance.js';
import { closeDueWindows } from '../src/events/close-windows.js';
import { startCoalescer } from '../src/events/runner.js';
import type { Logger } from '../src/log.js';
import { insertContacts } from '../src/store/contact-writes.js';
import { newContactFields } from '../src/store/contacts.js';
import type { Db } from '../src/store/db.js';
import { createSubscription } from '../src/store/subscriptions.js';
import { createLocation, createOrganization } from '../src/store/tenants.js';
import { rate, type ReceiverProcess } from './lib.js';

/** The description of the throughput location's subscription (how the bench finds its deliveries). */
export const THROUGHPUT_SUBSCRIPTION = 'data-scale throughput';

/** A location of its own (a new organization), one subscription to the receiver, and a contact writer. */
export async function benchLocation(db: Db, receiverUrl: string) {
  const org = await createOrganization(db, 'Throughput org');
  const location = await createLocation(db, {
    name: 'Throughput gym',
    organizationId: org.id,
    defaultContactGroupId: 1,
  });
  await createSubscription(db, {
    url: receiverUrl,
    eventTypes: null,
    locationId: location.id,
    organizationId: org.id,
    description: THROUGHPUT_SUBSCRIPTION,
    secret: generateSecret(),
  });
  let n = 0;
  const meta = {
    source: 'import' as const,
    actorType: 'system' as const,
    actorId: null,
  };
  return async (count: number) => {
    for (let done = 0; done < count; done += 5000) {
      const batch = Array.from({ length: Math.min(5000, count - done) }, () =>
        newContactFields(location, { firstName: `T${n++}`, contactGroupId: 2 }),
      );
      await db.transaction((tx) => insertContacts(tx, location, batch, meta, { quietMs: 0, maxMs: 0 }));
    }
  };
}

/** A throughput run: `contacts` contacts written by `write` (3 events each), delivered to `receiver`. */
interface Run {
  label: string;
  contacts: number;
  write: (count: number) => Promise<void>;
  receiver: ReceiverProcess;
  log: Logger;
  /** runs just before the clock starts (to begin counting statements, say) */
  onStart?: () => void;
}

/**
 * Deliveries per second of `contacts` contacts' writes (3 events each), written first: from the
 * moment a worker and a closer start on them to the receiver's last webhook.
 */
export async function deliveryThroughput(
  db: Db,
  o: Run & { maintenance: ReturnType<typeof startMaintenance> },
): Promise<number> {
  await o.receiver.reset();
  await o.write(o.contacts);
  const config = loadConfig({ ...process.env, FPT_ALLOW_PRIVATE_URLS: '1' });
  o.onStart?.();
  const t0 = performance.now();
  const worker = new DeliveryWorker(db, config.delivery, o.log, {});
  await worker.start();
  const coalescer = await startCoalescer(db, o.log, worker, undefined, o.maintenance);
  await o.receiver.waitFor(o.contacts * 3, `${o.label} throughput`);
  const ms = performance.now() - t0;
  await coalescer.stop();
  await worker.stop();
  return rate(o.contacts * 3, ms);
}

/**
 * Deliveries per second of a backlog: `contacts` contacts' writes (3 events each) closed into
 * pending deliveries first, with no worker to hand them to, then sent by a worker alone, so that
 * every delivery goes through a claim (a burst the closer's hand-off could not take, or a worker
 * starting on a queue that built up while it was away).
 */
export async function backlogThroughput(db: Db, o: Run): Promise<number> {
  await o.receiver.reset();
  await o.write(o.contacts);
  while ((await closeDueWindows(db, { limit: 2000 })).windows > 0);
  const config = loadConfig({ ...process.env, FPT_ALLOW_PRIVATE_URLS: '1' });
  o.onStart?.();
  const t0 = performance.now();
  const worker = new DeliveryWorker(db, config.delivery, o.log, {});
  await worker.start();
  await o.receiver.waitFor(o.contacts * 3, `${o.label} backlog`);
  const ms = performance.now() - t0;
  await worker.stop();
  return rate(o.contacts * 3, ms);
}
