/**
 * End-to-end delivery: contact changes → windows → events → deliveries → HTTP POSTs acknowledged by
 * a local receiver (its own process), on each engine, beside the raw HTTP ceiling measured against
 * the same receiver in the same run.
 *
 *   npx tsx bench/deliver.ts [--engine pglite|postgres|both] [--contacts 20000] [--rate 1000] [--seconds 10]
 *
 * 1. ceiling: a plain undici Pool loop, 32 requests in flight, posting an envelope-sized body;
 * 2. throughput: `--contacts` contacts created in one burst (3 events each: created, status_changed,
 *    updated), one subscription; the coalescer and the delivery worker start and run until the
 *    receiver has every event; events/s over that span;
 * 3. latency: a writer creating contacts at `--rate` events/s for `--seconds`, with windows that
 *    close at once (quiet = 0); latency is from the window's close (the events' commit) to receipt.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { loadConfig } from '../src/config.js';
import type { ContactFields } from '../src/domain/contact.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import { startCoalescer } from '../src/events/runner.js';
import { createLogger } from '../src/log.js';
import { insertContacts, newContactFields } from '../src/store/contacts.js';
import { generateSecret } from '../src/delivery/signing.js';
import { createSubscription } from '../src/store/subscriptions.js';
import { benchTenant, machine, openBenchDb, parseEngines, progress, rate, type BenchEngine } from './lib.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string' },
    contacts: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
  },
});
const CONTACTS = Number(values.contacts);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const EVENTS_PER_CONTACT = 3;

class ReceiverProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static start(): Promise<ReceiverProcess> {
    const child = fork(new URL('./receiver.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
    });
    return new Promise((resolve) =>
      child.once('message', (m: { port: number }) => resolve(new ReceiverProcess(child, m.port))),
    );
  }

  private ask<T>(cmd: string): Promise<T> {
    return new Promise((resolve) => {
      this.child.once('message', (m: T) => resolve(m));
      this.child.send({ cmd });
    });
  }

  count = async () => (await this.ask<{ count: number }>('count')).count;
  receipts = async () => (await this.ask<{ receipts: [string, number][] }>('receipts')).receipts;
  reset = () => this.ask('reset');
  stop = () => this.ask('exit');

  async waitFor(n: number, label: string): Promise<void> {
    let last = 0;
    for (;;) {
      const c = await this.count();
      if (c >= n) return;
      if (c - last >= n / 5) progress(`${label}: ${(last = c)} of ${n} received`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

async function ceiling(port: number, n: number): Promise<number> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
  const body = JSON.stringify({
    eventId: '019a4f0c8e2b7d3a9c1e5f7a2b4c6d8e',
    eventType: 'contact.status_changed',
    eventTimestamp: '2026-06-10T23:45:00.123Z',
    locationId: 1234,
    organizationId: 5678,
    apiVersion: 'v1',
    data: { contactId: 9876, previousStatusId: 1, newStatusId: 3 },
  });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < n) {
        const res = await pool.request({
          path: '/hooks',
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        await res.body.dump();
      }
    }),
  );
  const ms = performance.now() - t0;
  await pool.close();
  return rate(n, ms);
}

async function run(engine: BenchEngine, receiver: ReceiverProcess) {
  const bench = await openBenchDb(engine);
  const { db } = bench;
  const log = createLogger('warn');
  const config = loadConfig({ ...process.env, FPT_ALLOW_PRIVATE_URLS: '1' });
  try {
    const { org, location, meta } = await benchTenant(db);
    await createSubscription(db, {
      url: `http://127.0.0.1:${receiver.port}/hooks`,
      eventTypes: null,
      locationId: location.id,
      organizationId: org.id,
      description: 'bench',
      secret: generateSecret(),
    });

    const contacts = (n: number, from: number): ContactFields[] =>
      Array.from({ length: n }, (_, i) =>
        newContactFields(location, { firstName: `C${from + i}`, contactGroupId: 2 }),
      );

    // throughput
    await receiver.reset();
    for (let done = 0; done < CONTACTS; done += 5000) {
      const n = Math.min(5000, CONTACTS - done);
      await db.transaction((tx) => insertContacts(tx, location, contacts(n, done), meta));
    }
    progress(`${engine}: ${CONTACTS} contacts written; starting the workers`);
    const total = CONTACTS * EVENTS_PER_CONTACT;
    const t0 = performance.now();
    const worker = new DeliveryWorker(db, config.delivery, log);
    await worker.start();
    const coalescer = await startCoalescer(db, log, worker);
    await receiver.waitFor(total, `${engine} throughput`);
    const throughputMs = performance.now() - t0;

    // latency at a fixed rate
    await receiver.reset();
    const perTick = Math.max(1, Math.round(RATE / EVENTS_PER_CONTACT / 100)); // contacts per 10 ms tick
    const ticks = SECONDS * 100;
    const start = performance.now();
    for (let i = 0; i < ticks; i++) {
      await db.transaction((tx) =>
        insertContacts(tx, location, contacts(perTick, CONTACTS + i * perTick), meta),
      );
      const wait = start + (i + 1) * 10 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const sent = ticks * perTick * EVENTS_PER_CONTACT;
    await receiver.waitFor(sent, `${engine} latency`);
    const receipts = await receiver.receipts();
    const { rows } = await db.query<{ event_id: string; at: Date }>(
      `SELECT event_id, created_at AS at FROM events WHERE event_id = ANY ($1::text[])`,
      [receipts.map(([id]) => id)],
    );
    const closedAt = new Map(rows.map((r) => [r.event_id, r.at.getTime()]));
    const lat = receipts.map(([id, at]) => at - closedAt.get(id)!).sort((a, b) => a - b);
    await worker.stop();
    await coalescer.stop();
    return {
      engine,
      throughput: rate(total, throughputMs),
      seconds: throughputMs / 1000,
      offered: Math.round(sent / SECONDS),
      p50: percentile(lat, 0.5),
      p99: percentile(lat, 0.99),
      max: lat.at(-1)!,
    };
  } finally {
    await bench.close();
  }
}

const receiver = await ReceiverProcess.start();
try {
  progress('raw HTTP ceiling');
  const raw = await ceiling(receiver.port, 100_000);
  console.log(
    `# delivery bench: ${machine()}; ${CONTACTS} contacts × ${EVENTS_PER_CONTACT} events; latency at ${RATE} events/s for ${SECONDS} s`,
  );
  console.log(`raw HTTP ceiling (undici Pool, 32 in flight, same receiver): ${raw} POSTs/s`);
  console.log(
    '| engine | delivered events/s (end to end) | share of ceiling | latency run: offered events/s | p50 | p99 | max |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const engine of parseEngines(values.engine)) {
    const r = await run(engine, receiver);
    console.log(
      `| ${r.engine} | ${r.throughput} (${r.seconds.toFixed(1)} s) | ${((100 * r.throughput) / raw).toFixed(0)}% | ${r.offered} | ${r.p50} ms | ${r.p99} ms | ${r.max} ms |`,
    );
  }
} finally {
  await receiver.stop();
}
