/**
 * How long the maintenance runner stops the embedded engine (and, in process, the service's
 * thread): its round over the queue's tables after a burst, and its periodic sweep of the whole
 * store, as main ran them before "maintenance in short steps" and as they run now, alternated in
 * one run.
 *
 *   npx tsx bench/maintenance.ts [--engine pglite|postgres|both] [--events 60000] [--burst 30000] [--rounds 3]
 *
 * The queue's tables hold `--events` events, one delivery and one attempt each (filled by SQL,
 * vacuumed and analyzed). Each round, before each mode, a burst adds `--burst` events, deliveries
 * (written `sending`, then `succeeded`: a dead row each, as the worker leaves them) and attempts;
 * the runner's own thresholds (`planRound`) then say what each table needs, and it is done three
 * ways, in an order that turns round by round:
 *  - `together` (main before): `VACUUM ANALYZE` of a table that needs both, at the default
 *    statistics target, every operation back to back;
 *  - `split`: the same as separate `VACUUM` and `ANALYZE` operations, still at the default target
 *    and back to back (the two parts timed apart);
 *  - `this`: the runner's round as it is now (`runMaintenanceRound`).
 * The burst is then deleted and the tables vacuumed and analyzed, untimed. On the embedded engine,
 * the sweep too: `VACUUM ANALYZE` of the whole database (main before) against `sweepStore`, each
 * after a burst. Beside each operation's time, a 1 ms timer measures the longest the thread went
 * without a turn of its event loop (on PostgreSQL the statements wait on the server: no stall).
 * Run under `flock /tmp/fpt-bench.lock` on a shared machine.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { planRound, runMaintenanceRound, sweepStore } from '../src/events/maintenance.js';
import type { Db } from '../src/store/db.js';
import { MAINTAINED_TABLES, tableStats } from '../src/store/maintenance.js';
import { machine, openBenchDb, parseEngines, progress } from './lib.js';
import { fillQueue } from './queue-fill.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'pglite' },
    events: { type: 'string', default: '60000' },
    burst: { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`usage: npx tsx bench/maintenance.ts [--engine pglite|postgres|both] [--events 60000] [--burst 30000] [--rounds 3]

Times the maintenance round after a burst and the embedded sweep, as main ran them and as they run
now, with the longest stall of the event loop. Run under flock /tmp/fpt-bench.lock.`);
  process.exit(0);
}
const EVENTS = Number(values.events);
const BURST = Number(values.burst);
const ROUNDS = Number(values.rounds);
const QUEUE = ['deliveries', 'delivery_attempts', 'events'];

interface Op {
  what: string;
  ms: number;
}

/** Runs `fn` with a 1 ms timer beside it: the longest gap between two of its ticks, in ms. */
async function withStallMeter<T>(fn: () => Promise<T>): Promise<{ result: T; stallMs: number; ms: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  try {
    const result = await fn();
    const ms = performance.now() - t0;
    stallMs = Math.max(stallMs, performance.now() - last);
    return { result, stallMs, ms };
  } finally {
    clearInterval(timer);
  }
}

async function timed(db: Db, statement: string, ops: Op[]): Promise<void> {
  const t0 = performance.now();
  await db.query(statement);
  ops.push({ what: statement, ms: performance.now() - t0 });
}

/**
 * A burst: `BURST` events, their deliveries (sent: one dead row each) and attempts, in one
 * transaction whose statistics are written out at its end (a server session otherwise keeps them
 * for up to a second).
 */
async function burst(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                           event_timestamp, data)
       SELECT 'evt_b' || g, 'win_b' || g, 0, 'contact.updated', g, 1, 1, now(), jsonb_build_object('contactId', g)
       FROM generate_series(1, $1::int) g`,
      [BURST],
    );
    await tx.query(
      `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts)
       SELECT 'dlv_b' || seq, (SELECT id FROM subscriptions LIMIT 1), seq, contact_id, 'sending', 0
       FROM events WHERE event_id LIKE 'evt_b%'`,
    );
    await tx.query(
      `UPDATE deliveries SET status = 'succeeded', attempts = 1, completed_at = now() WHERE id LIKE 'dlv_b%'`,
    );
    await tx.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, outcome, event_seq)
       SELECT id, 1, now(), 12, 200, '{"ok":true}', 'succeeded', event_seq FROM deliveries WHERE id LIKE 'dlv_b%'`,
    );
    await tx.query('SELECT pg_stat_force_next_flush()');
  });
}

/** The burst taken out again, and the tables as they were: vacuumed and analyzed, untimed. */
async function unburst(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`DELETE FROM delivery_attempts WHERE delivery_id LIKE 'dlv_b%'`);
    await tx.query(`DELETE FROM deliveries WHERE id LIKE 'dlv_b%'`);
    await tx.query(`DELETE FROM events WHERE event_id LIKE 'evt_b%'`);
    await tx.query('SELECT pg_stat_force_next_flush()');
  });
  for (const t of QUEUE) await db.query(`VACUUM ANALYZE ${t}`);
}

/** What the runner's thresholds ask for after the burst, as statements of `table op` pairs. */
async function plan(db: Db) {
  return planRound(await tableStats(db, MAINTAINED_TABLES));
}

const rounds = {
  together: async (db: Db, ops: Op[]) => {
    const steps = await plan(db);
    for (const [i, s] of steps.entries()) {
      if (s.op === 'ANALYZE' && steps[i - 1]?.table === s.table) continue;
      const both = s.op === 'VACUUM' && steps[i + 1]?.table === s.table;
      await timed(db, `${both ? 'VACUUM ANALYZE' : s.op} ${s.table}`, ops);
    }
  },
  split: async (db: Db, ops: Op[]) => {
    for (const s of await plan(db)) await timed(db, `${s.op} ${s.table}`, ops);
  },
  this: async (db: Db, ops: Op[]) => {
    const report = await runMaintenanceRound(db, { holder: 'bench', everyMs: 0, early: true });
    for (const d of report?.done ?? []) ops.push({ what: `${d.op} ${d.table}`, ms: d.ms });
  },
} satisfies Record<string, (db: Db, ops: Op[]) => Promise<void>>;

const sweeps = {
  'sweep, main before': async (db: Db, ops: Op[]) => timed(db, 'VACUUM ANALYZE', ops),
  'sweep, this': async (db: Db, ops: Op[]) => {
    for (const d of (await sweepStore(db)).done) ops.push({ what: `${d.op} ${d.table}`, ms: d.ms });
  },
} satisfies Record<string, (db: Db, ops: Op[]) => Promise<void>>;

const f0 = (x: number) => x.toFixed(0);
console.log(
  `# Maintenance stalls: ${machine()}, ${EVENTS} events, deliveries and attempts, bursts of ${BURST}\n`,
);
console.log(
  '| engine | round | mode | operations (ms) | longest operation | longest stall of the thread | total ms | load avg |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const engine of parseEngines(values.engine)) {
  const store = await openBenchDb(engine);
  try {
    progress(`${engine}: filling ${EVENTS} events, deliveries and attempts`);
    await fillQueue(store.db, EVENTS);
    await store.db.query('VACUUM ANALYZE');
    for (let r = 1; r <= ROUNDS; r++) {
      const modes: [string, (db: Db, ops: Op[]) => Promise<void>][] = Object.entries(rounds);
      const turned = [...modes.slice(r % modes.length), ...modes.slice(0, r % modes.length)];
      // a server runs autovacuum, not the sweep (and its whole-database VACUUM ANALYZE is everyone's)
      if (engine === 'pglite')
        turned.push(...(r % 2 ? Object.entries(sweeps) : Object.entries(sweeps).reverse()));
      for (const [mode, run] of turned) {
        progress(`${engine}: round ${r}, ${mode}`);
        await burst(store.db);
        const ops: Op[] = [];
        const { stallMs, ms } = await withStallMeter(() => run(store.db, ops));
        await unburst(store.db);
        const longest = ops.reduce((a, o) => (o.ms > a.ms ? o : a), { what: '–', ms: 0 });
        const list =
          ops.length > 8 ? `${ops.length} operations` : ops.map((o) => `${o.what} ${f0(o.ms)}`).join('; ');
        console.log(
          `| ${engine} | ${r} | ${mode} | ${list} | ${longest.what} ${f0(longest.ms)} | ${f0(stallMs)} | ${f0(ms)} | ${loadavg()
            .map((l) => l.toFixed(2))
            .join(', ')} |`,
        );
      }
    }
  } finally {
    await store.close();
  }
}
