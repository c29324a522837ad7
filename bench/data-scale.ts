/**
 * Issue 18's data-scale benchmark: the admin reads and the background loops timed on a database
 * filled to a production-like volume, beside an empty one, and the delivery throughput on both.
 *
 *   flock /tmp/fpt-bench.lock npx tsx bench/data-scale.ts [--scale 1] [--contacts 10000] [--keep]
 *
 * Two databases are created on the PostgreSQL server of FPT_BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), `fpt_scale_empty` and `fpt_scale_filled`, both
 * migrated; the second is filled by `data-scale-fill.ts` (`--scale 0.1` for a tenth of the volume).
 * Then, on each: the reads (a page of a 1.5M-delivery subscription's failed deliveries; a replay of
 * its failed deliveries of the last day, with its bound, rolled back), the background loops' steps
 * (closing a burst of windows, the heartbeat sweep, a /metrics scrape, a maintenance round and the
 * ANALYZE the closer used to run), and the delivery throughput from a burst of contact writes to a
 * local receiver. Both databases are dropped at the end unless `--keep`.
 */
import { Command } from 'commander';
import { loadConfig } from '../src/config.js';
import { newContactFields, insertContacts } from '../src/store/contacts.js';
import { generateSecret } from '../src/delivery/signing.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import { runMaintenanceRound, startMaintenance } from '../src/events/maintenance.js';
import { startCoalescer } from '../src/events/runner.js';
import { closeDueWindows } from '../src/events/close-windows.js';
import { createLogger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { enforceReplayBound } from '../src/api/quotas.js';
import type { Db, Queryable } from '../src/store/db.js';
import { listDeliveries } from '../src/store/deliveries/read.js';
import { replay } from '../src/store/deliveries/replay.js';
import { migrate } from '../src/store/migrate.js';
import { PostgresDb } from '../src/store/postgres.js';
import { createSubscription } from '../src/store/subscriptions.js';
import { createLocation, createOrganization } from '../src/store/tenants.js';
import { reapDeadWorkers } from '../src/store/workers.js';
import { countRows, fillDatabase, type Filled } from './data-scale-fill.js';
import { machine, PG_URL, progress, rate, ReceiverProcess } from './lib.js';

const program = new Command('data-scale')
  .description(
    "issue 18's data-scale benchmark (PostgreSQL): reads and loops on a filled database beside an empty one",
  )
  .option(
    '--scale <factor>',
    'the fraction of the issue volume to fill (1: 1M contacts, 3M events, 6M deliveries)',
    '1',
  )
  .option('--contacts <n>', 'contacts written for the throughput run (3 events each)', '10000')
  .option('--keep', 'keep both databases afterwards (default: dropped)')
  .option(
    '--fill-only',
    'create and fill both databases, keep them, and stop (no timing: run it outside the bench lock)',
  )
  .option('--reuse', 'time the databases a --fill-only run left (no fill)')
  .parse();
const opts = program.opts<{
  scale: string;
  contacts: string;
  keep?: boolean;
  fillOnly?: boolean;
  reuse?: boolean;
}>();
const SCALE = Number(opts.scale);
const CONTACTS = Number(opts.contacts);
if (!(SCALE > 0 && SCALE <= 2) || !(CONTACTS > 0)) program.error('--scale must be in (0, 2], --contacts > 0');

const log = createLogger('warn');
const admin = new PostgresDb({ connectionString: PG_URL, maxConnections: 1 });
const urlOf = (name: string) => {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.href;
};

async function freshDatabase(name: string): Promise<Db> {
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  const db = new PostgresDb({ connectionString: urlOf(name), maxConnections: 8 });
  await migrate(db);
  return db;
}

/** Milliseconds of `fn`, run `n` times: the first run and the median of the rest. */
async function timed(n: number, fn: () => Promise<unknown>): Promise<{ first: number; median: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  const rest = ms.slice(1).sort((a, b) => a - b);
  return { first: ms[0]!, median: rest.length > 0 ? rest[Math.floor(rest.length / 2)]! : ms[0]! };
}

class Rollback extends Error {}

interface PlanNode {
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
}

/**
 * `q` with every statement run under EXPLAIN (ANALYZE, BUFFERS): the pages (8 kB) each touched are
 * added to `pages.n`, a figure that does not depend on the machine's load. Statements that modify run
 * for real (callers roll them back); the answers are empty.
 */
function counting<Q extends Queryable>(q: Q, pages: { n: number }): Q {
  const query = async <R extends object>(text: string, params?: readonly unknown[]) => {
    const res = await q.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`,
      params,
    );
    const plan = res.rows[0]!['QUERY PLAN'][0]!.Plan;
    pages.n += (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
    return { rows: [] as R[], rowCount: 0 };
  };
  return Object.create(q, { query: { value: query } }) as Q;
}

const ignoreRollback = (err: unknown) => {
  if (!(err instanceof Rollback)) throw err;
};

/** A location of its own (a new organization), one subscription to the receiver, and a contact writer. */
async function benchLocation(db: Db, receiverUrl: string) {
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
    description: 'data-scale throughput',
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

async function measure(label: string, db: Db, bigSubscription: string, receiver: ReceiverProcess) {
  progress(`${label}: reads`);
  const quotas = loadConfig({}).quotas;
  const since = new Date(Date.now() - 86_400_000);
  const r: Record<string, { first: number; median: number; pages?: number }> = {};
  r.listFailed = await timed(6, () => listDeliveries(db, bigSubscription, { status: 'failed', limit: 50 }));
  r.listAll = await timed(6, () => listDeliveries(db, bigSubscription, { limit: 50 }));
  r.replayFailed = await timed(6, () =>
    db
      .transaction(async (tx) => {
        await enforceReplayBound(tx, quotas, { subscriptionId: bigSubscription, since, status: 'failed' });
        await replay(tx, bigSubscription, since, 'failed');
        throw new Rollback();
      })
      .catch(ignoreRollback),
  );
  const pages = (p: { n: number }) => p.n;
  const listPages = { n: 0 };
  await listDeliveries(counting(db, listPages), bigSubscription, { status: 'failed', limit: 50 });
  r.listFailed.pages = pages(listPages);
  // the replay's own statement (its bound, a count, answers nothing under EXPLAIN), rolled back
  const replayPages = { n: 0 };
  await db
    .transaction(async (tx) => {
      await replay(counting(tx, replayPages), bigSubscription, since, 'failed');
      throw new Rollback();
    })
    .catch(ignoreRollback);
  r.replayFailed.pages = pages(replayPages);
  progress(`${label}: background loops`);
  r.heartbeatSweep = await timed(21, () => reapDeadWorkers(db, 30_000));
  const metrics = new Metrics();
  metrics.watchStore(db);
  r.metricsScrape = await timed(11, () => metrics.text());
  const scrapePages = { n: 0 };
  const counted = new Metrics();
  counted.watchStore(counting(db, scrapePages));
  await counted.text();
  r.metricsScrape.pages = pages(scrapePages);
  r.analyzeQueue = await timed(3, () => db.query('ANALYZE deliveries, delivery_attempts'));
  r.maintenanceRound = await timed(3, () =>
    runMaintenanceRound(db, { holder: 'bench', everyMs: 0, early: true }),
  );
  // the closing step of a burst of 2,000 contacts (6,000 events), the closer's batch size
  const write = await benchLocation(db, receiver.url);
  const maintenance = startMaintenance(db, log, { everyMs: 10_000 });
  const closing: number[] = [];
  for (let i = 0; i < 4; i++) {
    await write(2000);
    const t = performance.now();
    // as the closer does: the maintenance loop (started below, as a service runs it) hears of the burst
    for (;;) {
      const closed = await closeDueWindows(db, { limit: 2000 });
      maintenance.grew(closed.deliveries);
      if (closed.windows === 0) break;
    }
    closing.push(performance.now() - t);
  }
  const closingRest = closing.slice(1).sort((a, b) => a - b);
  r.closeBurst = { first: closing[0]!, median: closingRest[1]! };
  await db.query(
    `UPDATE deliveries SET status = 'succeeded', completed_at = now() WHERE status IN ('pending', 'sending')`,
  );

  progress(`${label}: delivery throughput, ${CONTACTS} contacts`);
  await receiver.reset();
  await write(CONTACTS);
  const config = loadConfig({ ...process.env, FPT_ALLOW_PRIVATE_URLS: '1' });
  const t0 = performance.now();
  const worker = new DeliveryWorker(db, config.delivery, log, {});
  await worker.start();
  const coalescer = await startCoalescer(db, log, worker, undefined, maintenance);
  await receiver.waitFor(CONTACTS * 3, `${label} throughput`);
  const ms = performance.now() - t0;
  await coalescer.stop();
  await worker.stop();
  await maintenance.stop();
  return { ms: r, deliveriesPerSecond: rate(CONTACTS * 3, ms) };
}

/** The first organization-wide subscription the fill made: a quarter of the deliveries. */
async function bigSubscriptionOf(db: Db): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM subscriptions WHERE location_id IS NULL AND description = 'data-scale bench'
     ORDER BY created_at, id LIMIT 1`,
  );
  return rows[0]!.id;
}

/** Rows per filled table and the database's size. */
async function describeFill(db: Db) {
  const { rows: size } = await db.query<{ size: string }>(
    `SELECT pg_size_pretty(pg_database_size(current_database())) AS size`,
  );
  return { ...(await countRows(db)), size: size[0]!.size };
}

const fmt = (t: { first: number; median: number; pages?: number }) =>
  `${t.median.toFixed(1)} (first ${t.first.toFixed(1)})${t.pages === undefined ? '' : `, ${t.pages} pages`}`;

const receiver = await ReceiverProcess.start();
const dbs: Db[] = [];
try {
  const load0 = (await import('node:os')).loadavg();
  let empty: Db;
  let filled: Db;
  let fill: string;
  if (opts.reuse) {
    empty = new PostgresDb({ connectionString: urlOf('fpt_scale_empty'), maxConnections: 8 });
    filled = new PostgresDb({ connectionString: urlOf('fpt_scale_filled'), maxConnections: 8 });
    dbs.push(empty, filled);
    fill = `reused: ${JSON.stringify(await describeFill(filled))}`;
  } else {
    empty = await freshDatabase('fpt_scale_empty');
    filled = await freshDatabase('fpt_scale_filled');
    dbs.push(empty, filled);
    progress(`filling at scale ${SCALE}`);
    const f: Filled = await fillDatabase(filled, SCALE);
    // the empty database gets the same tenants and subscriptions, without history
    await fillDatabase(empty, 0);
    fill = `${JSON.stringify(f.counts)}, ${f.size}, in ${f.minutes.toFixed(1)} min`;
  }
  if (opts.fillOnly) {
    console.log(`filled: ${fill}`);
    process.exitCode = 0;
  } else {
    const e = { bigSubscription: await bigSubscriptionOf(empty) };
    const f = { bigSubscription: await bigSubscriptionOf(filled) };
    const onEmpty = await measure('empty', empty, e.bigSubscription, receiver);
    const onFilled = await measure('filled', filled, f.bigSubscription, receiver);
    const load1 = (await import('node:os')).loadavg();
    console.log(`# data-scale bench: ${machine()}; scale ${SCALE}; ${CONTACTS} contacts for throughput`);
    console.log(`filled: ${fill}`);
    console.log(
      `load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}`,
    );
    console.log('| what (ms: median, first run; pages touched) | empty | filled | filled ÷ empty (median) |');
    console.log('|---|---|---|---|');
    for (const key of Object.keys(onEmpty.ms)) {
      const a = onEmpty.ms[key]!;
      const b = onFilled.ms[key]!;
      console.log(`| ${key} | ${fmt(a)} | ${fmt(b)} | ${(b.median / a.median).toFixed(2)} |`);
    }
    console.log(
      `| deliveries/s (${CONTACTS * 3} events) | ${onEmpty.deliveriesPerSecond} | ${onFilled.deliveriesPerSecond} | ${(onFilled.deliveriesPerSecond / onEmpty.deliveriesPerSecond).toFixed(2)} |`,
    );
  }
} finally {
  await receiver.stop();
  for (const db of dbs) await db.close();
  if (!opts.keep && !opts.fillOnly) {
    await admin.query('DROP DATABASE IF EXISTS fpt_scale_empty');
    await admin.query('DROP DATABASE IF EXISTS fpt_scale_filled');
  }
  await admin.close();
}
