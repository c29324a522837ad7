/**
 * Where a statement's time goes, on each database a `data-scale.ts --keep` (or `--fill-only`) run
 * left: every statement of a claim, of its completion and of the admin reads is run under
 * `EXPLAIN (ANALYZE, BUFFERS)` (then for real, for what the next one needs), and its planning time,
 * execution time, pages (8 kB) touched and the scans it ran are printed side by side, one column per
 * database. Everything runs in transactions rolled back, so the databases are left as they were
 * (but for the 2,000 contacts written first, whose 6,000 deliveries are the queue claimed from).
 *
 *   flock /tmp/fpt-bench.lock npx tsx bench/data-scale-explain.ts [--dbs fpt_scale_empty,fpt_scale_month,fpt_scale_filled]
 *
 * Statements are shown by their first words; `--plans <file>` writes every plan in full (text) too.
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { closeDueWindows } from '../src/events/close-windows.js';
import { assumeOneSnapshot, type Db, type Tx } from '../src/store/db.js';
import { claimDeliveries } from '../src/store/deliveries/claim.js';
import { completeDeliveries, successorsWaiting, type Completion } from '../src/store/deliveries/complete.js';
import { getDelivery, listDeliveries } from '../src/store/deliveries/read.js';
import { replay } from '../src/store/deliveries/replay.js';
import { PostgresDb } from '../src/store/postgres.js';
import { seedReplayRows, unseedReplayRows } from './data-scale-reads.js';
import { benchLocation } from './data-scale-throughput.js';
import { machine, PG_URL, progress } from './lib.js';

const opts = new Command('data-scale-explain')
  .option(
    '--dbs <names>',
    'the databases, comma-separated',
    'fpt_scale_empty,fpt_scale_month,fpt_scale_filled',
  )
  .option('--runs <n>', 'runs of each step (rolled back); the medians are shown', '3')
  .option('--plans <file>', 'write every plan in full to this file')
  .option(
    '--replay-rows <n>',
    "failed deliveries in the replay's window on every database (added where fewer, for the run, then taken out)",
  )
  .parse()
  .opts<{ dbs: string; runs: string; plans?: string; replayRows?: string }>();
/** the replay's window, one for the run */
const since = new Date(Date.now() - 86_400_000);

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Loops'?: number;
  'Subplans Removed'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}
interface Explained {
  planningMs: number;
  executionMs: number;
  pages: number;
  /** scans that ran, by index (partition numbers as N) */
  scans: string;
  text: string;
}

/** The scans of a plan that ran at least once, counted by index (or table), partitions folded. */
function scansOf(plan: PlanNode): string {
  const counts = new Map<string, number>();
  const walk = (n: PlanNode) => {
    if ((n['Actual Loops'] ?? 0) > 0 && /Scan/.test(n['Node Type']) && n['Node Type'] !== 'CTE Scan') {
      const what = (n['Index Name'] ?? n['Relation Name'] ?? n['Node Type']).replace(/_p\d+_/, '_pN_');
      const name = `${n['Node Type'].replace(' Scan', '')}:${what}`;
      counts.set(name, (counts.get(name) ?? 0) + (n['Actual Loops'] ?? 0));
    }
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(plan);
  return [...counts].map(([k, v]) => `${k}×${v}`).join(' ');
}

const SKIPPED = /^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SET|SELECT pg_advisory)/i;

/**
 * `tx` with each statement run first under EXPLAIN (ANALYZE, BUFFERS) in a savepoint rolled back,
 * then for real. What each explained is appended to `out` under its first words.
 */
function explaining(tx: Tx, out: [string, Explained][]): Tx {
  const query = async <R extends object>(text: string, params?: readonly unknown[]) => {
    if (!SKIPPED.test(text)) {
      await tx.query('SAVEPOINT explained');
      const res = await tx.query<{
        'QUERY PLAN': [{ Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }];
      }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, params);
      // (undone before the text plan, so that a statement that modifies finds its rows again)
      await tx.query('ROLLBACK TO SAVEPOINT explained');
      const { rows: textPlan } = await tx.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`,
        params,
      );
      await tx.query('ROLLBACK TO SAVEPOINT explained');
      const p = res.rows[0]!['QUERY PLAN'][0];
      out.push([
        text.replace(/\s+/g, ' ').trim().slice(0, 70),
        {
          planningMs: p['Planning Time'],
          executionMs: p['Execution Time'],
          pages: (p.Plan['Shared Hit Blocks'] ?? 0) + (p.Plan['Shared Read Blocks'] ?? 0),
          scans: scansOf(p.Plan),
          text: textPlan.map((r) => r['QUERY PLAN']).join('\n'),
        },
      ]);
    }
    return tx.query<R>(text, params);
  };
  return Object.create(tx, { query: { value: query } }) as Tx;
}

class Rollback extends Error {}
const rolledBack = (db: Db, fn: (tx: Tx) => Promise<void>, indexLookupsOnly = false) =>
  db
    .transaction(
      async (tx) => {
        await fn(tx);
        throw new Rollback();
      },
      { indexLookupsOnly },
    )
    .catch((err: unknown) => {
      if (!(err instanceof Rollback)) throw err;
    });

/** One run of every step on `db`: what each statement cost, in order. */
async function explainAll(db: Db, bigSubscription: string): Promise<[string, Explained][]> {
  const out: [string, Explained][] = [];
  // a claim of 500 chains (1,500 deliveries), their completion, and the successors' question
  await rolledBack(
    db,
    async (tx) => {
      const x = explaining(tx, out);
      const { chains } = await claimDeliveries(
        { transaction: (fn) => fn(x) },
        {
          limit: 500,
          leaseMs: 60_000,
          subscriptionRoom: new Map(),
          defaultRoom: 500,
        },
      );
      const done: Completion[] = chains.flat().map((d) => ({
        deliveryId: d.id,
        eventSeq: d.eventSeq,
        subscriptionId: d.subscriptionId,
        attempt: d.attempt,
        startedAt: new Date(),
        durationMs: 5,
        statusCode: 200,
        responseBody: '{"received":true}',
        error: null,
        outcome: 'succeeded',
        nextAttemptAt: null,
        reason: null,
      }));
      const { finished } = await completeDeliveries(x, done);
      await successorsWaiting(x, finished);
    },
    true,
  );
  // the admin reads
  await rolledBack(db, async (tx) => {
    const x = assumeOneSnapshot(explaining(tx, out));
    await listDeliveries(x, bigSubscription, { status: 'failed', limit: 50 });
    await listDeliveries(x, bigSubscription, { limit: 50 });
    await replay(x, bigSubscription, since, 'failed');
    const { rows } = await tx.query<{ id: string }>(`SELECT id FROM deliveries ORDER BY seq DESC LIMIT 1`);
    if (rows[0]) await getDelivery(x, rows[0].id);
  });
  return out;
}

const urlOf = (name: string) => {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.href;
};
const names = opts.dbs.split(',');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const table = new Map<string, Map<string, Explained[]>>();
const plans: string[] = [];
for (const name of names) {
  const db = new PostgresDb({ connectionString: urlOf(name), maxConnections: 2 });
  try {
    progress(`${name}: 2,000 contacts written and closed (6,000 pending deliveries)`);
    const write = await benchLocation(db, 'http://127.0.0.1:9/hooks');
    await write(2000);
    while ((await closeDueWindows(db, { limit: 2000 })).windows > 0);
    const { rows } = await db.query<{ id: string }>(
      `SELECT id FROM subscriptions WHERE location_id IS NULL AND description = 'data-scale bench'
       ORDER BY created_at, id LIMIT 1`,
    );
    if (opts.replayRows !== undefined) {
      const n = await seedReplayRows(db, rows[0]!.id, since, Number(opts.replayRows));
      if (n > 0) await db.query(`VACUUM ANALYZE deliveries, events`);
      progress(`${name}: ${n} failed deliveries added for the replay`);
    }
    for (let r = 0; r < Number(opts.runs); r++) {
      progress(`${name}: run ${r + 1}`);
      const out = await explainAll(db, rows[0]!.id);
      out.forEach(([text, e], i) => {
        const key = `${String(i + 1).padStart(2, '0')} ${text}`;
        const byDb = table.get(key) ?? new Map<string, Explained[]>();
        byDb.set(name, [...(byDb.get(name) ?? []), e]);
        table.set(key, byDb);
        if (r === 0) plans.push(`## ${name}: ${key}\n${e.text}\n`);
      });
    }
    // the throughput location's deliveries are finished, as a data-scale run leaves them
    await db.query(
      `UPDATE deliveries SET status = 'succeeded', completed_at = now() WHERE status IN ('pending', 'sending')`,
    );
  } finally {
    if (opts.replayRows !== undefined) await unseedReplayRows(db);
    await db.close();
  }
}
console.log(
  `# data-scale explain: ${machine()}; medians of ${opts.runs} runs; planning / execution ms, pages`,
);
console.log(`| statement | ${names.join(' | ')} |\n|---|${names.map(() => '---|').join('')}`);
const last = (byDb: Map<string, Explained[]>, n: string) => byDb.get(n)?.at(-1);
for (const [key, byDb] of table) {
  const cells = names.map((n) => {
    const es = byDb.get(n) ?? [];
    if (es.length === 0) return '–';
    const ms = (f: (e: Explained) => number) => median(es.map(f)).toFixed(1);
    return `${ms((e) => e.planningMs)} / ${ms((e) => e.executionMs)} ms, ${last(byDb, n)!.pages} p`;
  });
  console.log(`| \`${key}\` | ${cells.join(' | ')} |`);
}
console.log('\nThe scans each ran (loops), last run:');
for (const [key, byDb] of table)
  for (const n of names) console.log(`- ${key.slice(0, 2)} ${n}: ${last(byDb, n)?.scans ?? '–'}`);
if (opts.plans) writeFileSync(opts.plans, plans.join('\n'));
