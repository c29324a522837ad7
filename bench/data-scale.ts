/**
 * Issue 18's data-scale benchmark: the admin reads and the background loops timed on a database
 * filled to a production-like volume, beside an empty one, and the delivery throughput on both.
 *
 *   flock /tmp/fpt-bench.lock npx tsx bench/data-scale.ts [--scale 1] [--contacts 10000] [--keep]
 *
 * Three databases are created on the PostgreSQL server of FPT_BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), all migrated: `fpt_scale_empty` (a new install: two
 * partitions), `fpt_scale_month` (empty too, with the month of daily partitions a service that has
 * run a month has, stored or not) and `fpt_scale_filled` (`--prefix` names them otherwise), filled
 * by `data-scale-fill.ts` over the same partitions (`--scale 0.1` for a tenth of the volume). Then,
 * on each: the reads (a page of a 1.5M-delivery subscription's failed deliveries; a replay of its
 * failed deliveries of the last day, with its bound, rolled back, on as many failed deliveries on
 * every database as the filled one has: `data-scale-reads.ts`; a delivery by its id), the background
 * loops' steps (closing a burst of windows, the heartbeat sweep, a /metrics scrape, a maintenance
 * round and the ANALYZE the closer used to run), and the delivery throughput from a burst of contact
 * writes to a local receiver, twice: as the service runs (the closer hands most deliveries to the
 * worker) and from a backlog (windows closed first, every delivery claimed). `--statements` prints
 * the costliest statements of each database's delivery phase. Last, the purge at 7-day retention
 * (`--no-purge` to skip it). `--reads-only` times the reads alone, on each database twice
 * (alternated), and nothing else. The databases are dropped at the end unless `--keep`.
 * (bench/data-scale-explain.ts and bench/data-scale-statements.ts take the kept databases further.)
 */
import { loadavg } from 'node:os';
import { Command } from 'commander';
import { loadConfig } from '../src/config.js';
import { runMaintenanceRound, startMaintenance } from '../src/events/maintenance.js';
import { retentionRound } from '../src/events/retention.js';
import { closeDueWindows } from '../src/events/close-windows.js';
import { createLogger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { assumeOneSnapshot, type Db } from '../src/store/db.js';
import { getDelivery } from '../src/store/deliveries/read.js';
import { migrate } from '../src/store/migrate.js';
import { PostgresDb } from '../src/store/postgres.js';
import { reapDeadWorkers } from '../src/store/workers.js';
import { countRows, fillDatabase, type Filled } from './data-scale-fill.js';
import { counting, failedSince, measureReads, timed, type Timing } from './data-scale-reads.js';
import {
  backlogThroughput,
  benchLocation,
  deliveryThroughput,
  THROUGHPUT_SUBSCRIPTION,
} from './data-scale-throughput.js';
import { machine, PG_URL, progress, ReceiverProcess } from './lib.js';
import { recordStatements, statementReport, type StatementTable } from './statement-times.js';

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
  .option(
    '--reads-only',
    'time the admin reads only, on each database twice (empty, month, filled, filled, month, empty); no purge',
  )
  .option('--prefix <name>', 'the databases are <name>_empty, <name>_month and <name>_filled', 'fpt_scale')
  .option('--statements', "time every statement of each database's delivery phase and print the costliest")
  .option('--no-purge', 'skip the purge at 7-day retention, which runs last (it empties most of the fill)')
  .parse();
const opts = program.opts<{
  scale: string;
  contacts: string;
  keep?: boolean;
  fillOnly?: boolean;
  reuse?: boolean;
  purge: boolean;
  statements?: boolean;
  prefix: string;
  readsOnly?: boolean;
}>();
const SCALE = Number(opts.scale);
const CONTACTS = Number(opts.contacts);
if (!(SCALE > 0 && SCALE <= 2) || !(CONTACTS > 0)) program.error('--scale must be in (0, 2], --contacts > 0');
if (!/^[a-z_][a-z0-9_]*$/.test(opts.prefix)) program.error('--prefix: lower-case letters, digits and _ only');
const [EMPTY, MONTH, FILLED] = ['empty', 'month', 'filled'].map((k) => `${opts.prefix}_${k}`) as [
  string,
  string,
  string,
];

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

async function measure(
  label: string,
  db: Db,
  bigSubscription: string,
  receiver: ReceiverProcess,
  replay: { since: Date; rows: number },
) {
  const r = await measureReads(label, db, bigSubscription, replay.since, replay.rows);
  const pages = (p: { n: number }) => p.n;
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
  // a delivery by its id (GET /api/deliveries/{id}): one of the bursts' (a UUIDv7 id, in the current
  // partition), read as the API reads it, and by the statement it used before (every partition probed)
  const { rows: made } = await db.query<{ id: string }>(
    `SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
     WHERE s.description = '${THROUGHPUT_SUBSCRIPTION}' AND d.event_seq IS NOT NULL ORDER BY d.seq DESC LIMIT 1`,
  );
  const deliveryId = made[0]!.id;
  // (the read alone, outside the snapshot the API reads it in: nothing writes meanwhile)
  const quiet = assumeOneSnapshot(db);
  r.getDelivery = await timed(11, () => getDelivery(quiet, deliveryId));
  const byIdPages = { n: 0 };
  await getDelivery(counting(quiet, byIdPages), deliveryId);
  r.getDelivery.pages = pages(byIdPages);
  const everyPartition = `SELECT d.*, e.event_id FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq WHERE d.id = $1`;
  r.getDeliveryEveryPartition = await timed(11, () => db.query(everyPartition, [deliveryId]));
  const everyPages = { n: 0 };
  await counting(db, everyPages).query(everyPartition, [deliveryId]);
  r.getDeliveryEveryPartition.pages = pages(everyPages);
  await db.query(
    `UPDATE deliveries SET status = 'succeeded', completed_at = now() WHERE status IN ('pending', 'sending')`,
  );

  progress(`${label}: delivery throughput, ${CONTACTS} contacts`);
  const statements: StatementTable = new Map();
  const deliveriesPerSecond = await deliveryThroughput(db, {
    label,
    contacts: CONTACTS,
    write,
    receiver,
    maintenance,
    log,
    onStart: () => recordStatements(opts.statements ? statements : undefined),
  });
  recordStatements(undefined);
  if (opts.statements)
    console.log(`\n## ${label}: the delivery phase's statements\n${statementReport(statements, 1, 12)}\n`);
  progress(`${label}: a backlog's throughput (every delivery claimed), ${CONTACTS} contacts`);
  const backlogPerSecond = await backlogThroughput(db, { label, contacts: CONTACTS, write, receiver, log });
  await maintenance.stop();
  return { ms: r, deliveriesPerSecond, backlogPerSecond };
}

/**
 * Retention at 7 days, as the service's retention loop runs it (`retentionRound` until no purge fills
 * its batch): the seconds, the rows before and after, the database's size before and after.
 */
async function purge(label: string, db: Db) {
  progress(`${label}: purge at 7-day retention`);
  const config = loadConfig({ FPT_EVENT_RETENTION_DAYS: '7' });
  const sizeMb = async () =>
    (await db.query<{ mb: number }>(`SELECT (pg_database_size(current_database()) / 1048576)::int AS mb`))
      .rows[0]!.mb;
  const before = await countRows(db);
  const sizeBefore = await sizeMb();
  const { rows: parts } = await db.query<{ n: number }>(`SELECT n FROM event_partitions ORDER BY n`);
  const t0 = performance.now();
  let rounds = 1;
  while (await retentionRound(db, config, log, 1000)) rounds++;
  const ms = performance.now() - t0;
  const { rows: left } = await db.query<{ n: number }>(`SELECT n FROM event_partitions ORDER BY n`);
  const kept = new Set(left.map((r) => r.n));
  // (the row counts are the planner's: analyzed first)
  await db.query('ANALYZE contacts, contact_history, events, deliveries, delivery_attempts');
  return {
    ms,
    rounds,
    dropped: parts.map((r) => r.n).filter((n) => !kept.has(n)),
    before,
    after: await countRows(db),
    sizeBefore,
    sizeAfter: await sizeMb(),
  };
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

const fmt = (t: Timing) =>
  `${t.median.toFixed(1)} (first ${t.first.toFixed(1)})${t.pages === undefined ? '' : `, ${t.pages} pages`}` +
  (t.rows === undefined ? '' : `, ${t.rows} rows`);

/** The run's heading and the table's, the load average since `load0`. */
function heading(load0: number[], fill: string, what: string) {
  const load1 = loadavg();
  console.log(`# data-scale bench: ${machine()}; scale ${SCALE}; ${what}`);
  console.log(`filled: ${fill}`);
  console.log(
    `load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}`,
  );
  console.log(
    '| what (ms: median, first run; pages touched; rows requeued) | empty (new install) | empty, a month of partitions | filled | filled ÷ empty | filled ÷ month |',
  );
  console.log('|---|---|---|---|---|---|');
}

/** `--reads-only`: the reads on each database twice, alternated; the ratios are of the means. */
async function readsOnly(
  runs: [string, Db][],
  replay: { since: Date; rows: number },
  load0: number[],
  fill: string,
) {
  const byLabel = new Map<string, Record<string, Timing>[]>();
  for (const [label, db] of [...runs, ...[...runs].reverse()]) {
    const r = await measureReads(label, db, await bigSubscriptionOf(db), replay.since, replay.rows);
    byLabel.set(label, [...(byLabel.get(label) ?? []), r]);
  }
  heading(load0, fill, 'the reads only, order empty, month, filled, filled, month, empty');
  const mean = (ts: Timing[]) => ts.reduce((sum, t) => sum + t.median, 0) / ts.length;
  for (const key of Object.keys(byLabel.get(runs[0]![0])![0]!)) {
    const cells = runs.map(([label]) => byLabel.get(label)!.map((r) => r[key]!));
    const [a, m, b] = cells.map(mean) as [number, number, number];
    console.log(
      `| ${key} | ${cells.map((c) => c.map(fmt).join('; ')).join(' | ')} | ${(b / a).toFixed(2)} | ${(b / m).toFixed(2)} |`,
    );
  }
}

/** Every phase on each database in turn (reads, loops, throughput), then the purge unless `--no-purge`. */
async function allPhases(
  runs: [string, Db][],
  replayed: { since: Date; rows: number },
  load0: number[],
  fill: string,
) {
  const results = [];
  for (const [label, db] of runs)
    results.push(await measure(label, db, await bigSubscriptionOf(db), receiver, replayed));
  const [onEmpty, onMonth, onFilled] = results as [
    (typeof results)[0],
    (typeof results)[0],
    (typeof results)[0],
  ];
  heading(load0, fill, `${CONTACTS} contacts for throughput`);
  for (const key of Object.keys(onEmpty.ms)) {
    const [a, m, b] = [onEmpty.ms[key]!, onMonth.ms[key]!, onFilled.ms[key]!];
    console.log(
      `| ${key} | ${fmt(a)} | ${fmt(m)} | ${fmt(b)} | ${(b.median / a.median).toFixed(2)} | ${(b.median / m.median).toFixed(2)} |`,
    );
  }
  const perSecond = (what: string, [a, m, b]: number[]) =>
    console.log(`| ${what} | ${a} | ${m} | ${b} | ${(b! / a!).toFixed(2)} | ${(b! / m!).toFixed(2)} |`);
  perSecond(
    `deliveries/s (${CONTACTS * 3} events)`,
    [onEmpty, onMonth, onFilled].map((x) => x.deliveriesPerSecond),
  );
  perSecond(
    `deliveries/s, a backlog of ${CONTACTS * 3} claimed`,
    [onEmpty, onMonth, onFilled].map((x) => x.backlogPerSecond),
  );
  if (opts.purge) {
    // last, since it empties most of the fill: retention at 7 days, as the service runs it
    for (const [label, db] of runs) {
      const p = await purge(label, db);
      console.log(
        `purge at 7-day retention, ${label}: ${(p.ms / 1000).toFixed(2)} s in ${p.rounds} rounds, ` +
          `partitions dropped ${JSON.stringify(p.dropped)}, rows ${JSON.stringify(p.before)} -> ${JSON.stringify(p.after)}, ` +
          `database ${p.sizeBefore} -> ${p.sizeAfter} MB (${p.sizeBefore - p.sizeAfter} MB returned)`,
      );
    }
  }
}

const receiver = await ReceiverProcess.start();
const dbs: Db[] = [];
try {
  const load0 = loadavg();
  let empty: Db;
  let filled: Db;
  let fill: string;
  if (opts.reuse) {
    empty = new PostgresDb({ connectionString: urlOf(EMPTY), maxConnections: 8 });
    filled = new PostgresDb({ connectionString: urlOf(FILLED), maxConnections: 8 });
    dbs.push(empty, filled);
    // migrations newer than the fill (timed: on the filled database, what an upgrade costs)
    for (const [name, db] of [
      ['empty', empty],
      ['filled', filled],
    ] as const) {
      const t = performance.now();
      const applied = await migrate(db);
      if (applied.length > 0)
        progress(`${name}: migrated ${applied.join(', ')} in ${Math.round(performance.now() - t)} ms`);
    }
    fill = `reused: ${JSON.stringify(await describeFill(filled))}`;
  } else {
    empty = await freshDatabase(EMPTY);
    filled = await freshDatabase(FILLED);
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
    // and a third: empty too, but with the filled one's month of daily partitions (made afresh, in
    // seconds), which a service that has run a month has whatever it stored: filled ÷ this is the
    // cost of the stored volume alone, this ÷ empty the cost of the partitions alone
    const month = await freshDatabase(MONTH);
    dbs.push(month);
    await fillDatabase(month, 0, true);
    const runs: [string, Db][] = [
      ['empty', empty],
      ['month', month],
      ['filled', filled],
    ];
    // the replay's window, one for the run: the filled database's failed deliveries in it are the rows
    // every database's replay requeues (added to the others for that phase)
    const since = new Date(Date.now() - 86_400_000);
    const replayed = { since, rows: await failedSince(filled, await bigSubscriptionOf(filled), since) };
    progress(
      `the replay since ${since.toISOString()}: ${replayed.rows} failed deliveries on the filled database`,
    );
    if (opts.readsOnly) await readsOnly(runs, replayed, load0, fill);
    else await allPhases(runs, replayed, load0, fill);
  }
} finally {
  await receiver.stop();
  for (const db of dbs) await db.close();
  if (!opts.keep && !opts.fillOnly) {
    await admin.query(`DROP DATABASE IF EXISTS ${EMPTY}`);
    await admin.query(`DROP DATABASE IF EXISTS ${MONTH}`);
    await admin.query(`DROP DATABASE IF EXISTS ${FILLED}`);
  }
  await admin.close();
}
