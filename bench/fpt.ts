/**
 * This project's delivery pipeline driven for benchmarks, through its stable entry points only
 * (open a store, create a tenant and a subscription, write contacts, start the coalescer and the
 * delivery worker), so the harness keeps working while their insides change.
 */
import { loadConfig } from '../src/config.js';
import type { ContactFields } from '../src/domain/contact.js';
import { generateSecret } from '../src/delivery/signing.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import { startCoalescer } from '../src/events/runner.js';
import { applyHeapGrowth } from '../src/heap.js';
import { createLogger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { insertContacts } from '../src/store/contact-writes.js';
import { newContactFields } from '../src/store/contacts.js';
import type { Db } from '../src/store/db.js';
import { createSubscription } from '../src/store/subscriptions.js';
import type { Location } from '../src/store/tenants.js';
import { msUntilNextWindow } from '../src/store/windows.js';
import {
  benchTenant,
  openBenchDb,
  progress,
  type BenchEngine,
  type LatencyRun,
  type Phase,
  type ReceiverProcess,
  type ThroughputRun,
} from './lib.js';

/** Each bench contact derives three events: contact.created, contact.status_changed, contact.updated. */
export const EVENTS_PER_CONTACT = 3;
const WRITE_BATCH = 5000;

interface Pipeline {
  db: Db;
  location: Location;
  write(n: number): Promise<number[]>;
  close(): Promise<void>;
}

/** A fresh store with one location, one subscription to the receiver, and a contact writer. */
async function pipeline(engine: BenchEngine, receiver: ReceiverProcess): Promise<Pipeline> {
  const bench = await openBenchDb(engine);
  const { db } = bench;
  const { org, location, meta, coalesce } = await benchTenant(db);
  await createSubscription(db, {
    url: receiver.url,
    eventTypes: null,
    locationId: location.id,
    organizationId: org.id,
    description: 'bench',
    secret: generateSecret(),
  });
  let written = 0;
  // a group other than the default and a name: created, status_changed and updated per contact
  const fields = (n: number): ContactFields[] =>
    Array.from({ length: n }, () =>
      newContactFields(location, { firstName: `C${written++}`, contactGroupId: 2 }),
    );
  return {
    db,
    location,
    write: async (n) => {
      const ids: number[] = [];
      for (let done = 0; done < n; done += WRITE_BATCH) {
        const batch = fields(Math.min(WRITE_BATCH, n - done));
        const stored = await db.transaction((tx) => insertContacts(tx, location, batch, meta, coalesce));
        for (const c of stored.contacts) ids.push(c.contactId);
      }
      return ids;
    },
    close: () => bench.close(),
  };
}

/**
 * What a `serve` process runs with: its delivery settings, a logger, and its metrics; and its V8
 * heap growing factor (FPT_HEAP_GROWING_PERCENT), set in this process as `serve` sets it.
 */
function settings() {
  const config = loadConfig({ ...process.env, FPT_ALLOW_PRIVATE_URLS: '1' });
  applyHeapGrowth(config.heapGrowingPercent);
  return { delivery: config.delivery, log: createLogger('warn'), metrics: new Metrics() };
}

/**
 * Throughput from contact writes: `contacts` contacts are written in one burst (windows due at
 * once), then the coalescer and the delivery worker start; the clock runs until the receiver has
 * every event. Includes closing windows, deriving and storing events, fan-out and delivery.
 */
export async function fptFromWrites(
  engine: BenchEngine,
  receiver: ReceiverProcess,
  contacts: number,
  phase?: Phase,
): Promise<ThroughputRun> {
  const p = await pipeline(engine, receiver);
  const { delivery, log, metrics } = settings();
  try {
    await receiver.reset();
    const w0 = performance.now();
    await p.write(contacts);
    const writeMs = performance.now() - w0;
    progress(`fpt-events (${engine}): ${contacts} contacts written; starting the coalescer and the worker`);
    const events = contacts * EVENTS_PER_CONTACT;
    phase?.start();
    const t0 = performance.now();
    const worker = new DeliveryWorker(p.db, delivery, log, { metrics });
    await worker.start();
    const coalescer = await startCoalescer(p.db, log, worker, metrics);
    await receiver.waitFor(events, `fpt-events (${engine}) from writes`);
    const deliverMs = performance.now() - t0;
    await phase?.end();
    await coalescer.stop();
    await worker.stop();
    return { events, writeMs, deliverMs };
  } finally {
    await p.close();
  }
}

/**
 * Throughput from queued deliveries, the figure comparable with a job queue's backlog: the
 * contacts' windows are closed first with no worker running (events and one delivery per event
 * stored, nothing sent), then the delivery worker alone starts and the clock runs until the
 * receiver has every event. `writeMs` here is writing the contacts and closing their windows.
 */
export async function fptFromQueue(
  engine: BenchEngine,
  receiver: ReceiverProcess,
  contacts: number,
  phase?: Phase,
): Promise<ThroughputRun> {
  const p = await pipeline(engine, receiver);
  const { delivery, log, metrics } = settings();
  try {
    await receiver.reset();
    const w0 = performance.now();
    await p.write(contacts);
    const coalescer = await startCoalescer(p.db, log, undefined, metrics);
    while ((await msUntilNextWindow(p.db)) !== undefined) await new Promise((r) => setTimeout(r, 50));
    await coalescer.stop();
    const writeMs = performance.now() - w0;
    const events = contacts * EVENTS_PER_CONTACT;
    progress(`fpt-events (${engine}): ${events} deliveries queued; starting the worker`);
    phase?.start();
    const t0 = performance.now();
    const worker = new DeliveryWorker(p.db, delivery, log, { metrics });
    await worker.start();
    await receiver.waitFor(events, `fpt-events (${engine}) from queue`);
    const deliverMs = performance.now() - t0;
    await phase?.end();
    await worker.stop();
    return { events, writeMs, deliverMs };
  } finally {
    await p.close();
  }
}

/**
 * Latency at a fixed offered rate: with the coalescer and the worker running, a writer creates
 * contacts every 10 ms at `rate` events/s for `seconds`, with windows that close at once.
 */
export async function fptLatency(
  engine: BenchEngine,
  receiver: ReceiverProcess,
  rate: number,
  seconds: number,
): Promise<LatencyRun> {
  const p = await pipeline(engine, receiver);
  const { delivery, log, metrics } = settings();
  try {
    await receiver.reset();
    const worker = new DeliveryWorker(p.db, delivery, log, { metrics });
    await worker.start();
    const coalescer = await startCoalescer(p.db, log, worker, metrics);
    const perTick = Math.max(1, Math.round(rate / EVENTS_PER_CONTACT / 100));
    const ticks = Math.round(seconds * 100);
    const writtenAt = new Map<number, number>();
    const start = performance.now();
    for (let i = 0; i < ticks; i++) {
      const at = Date.now();
      for (const id of await p.write(perTick)) writtenAt.set(id, at);
      const wait = start + (i + 1) * 10 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const events = ticks * perTick * EVENTS_PER_CONTACT;
    await receiver.waitFor(events, `fpt-events (${engine}) latency`);
    await coalescer.stop();
    await worker.stop();
    const receipts = await receiver.receipts();
    const { rows } = await p.db.query<{ event_id: string; contact_id: number; at: Date }>(
      `SELECT event_id, contact_id, created_at AS at FROM events WHERE event_id = ANY ($1::text[])`,
      [receipts.map(([id]) => id)],
    );
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    const fromQueued: number[] = [];
    const fromWrite: number[] = [];
    for (const [id, at] of receipts) {
      const e = byId.get(id)!;
      fromQueued.push(at - e.at.getTime());
      fromWrite.push(at - writtenAt.get(e.contact_id)!);
    }
    return {
      offered: Math.round(events / seconds),
      events,
      fromQueued: fromQueued.sort((a, b) => a - b),
      fromWrite: fromWrite.sort((a, b) => a - b),
    };
  } finally {
    await p.close();
  }
}
