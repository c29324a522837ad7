import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import { WorkLoop } from '../loop.js';
import type { Db } from '../store/db.js';
import {
  analyzeTable,
  claimRound,
  finishRound,
  MAINTAINED_TABLES,
  sweptTables,
  tableStats,
  vacuumTable,
  type TableStats,
} from '../store/maintenance.js';

/**
 * Statistics and vacuum for the delivery queue, in a loop of their own: nothing in the closing or
 * delivery loops waits for an ANALYZE or a VACUUM (docs/design.md, "Maintenance off the hot path").
 *
 * Every process runs the loop; each round is claimed in the database (`claimRound`), so one process
 * at a time does the work. A round reads the tables' counters and
 * - analyzes a table once its rows changed by half since its last ANALYZE (at least 2,000): right
 *   after a burst the planner would otherwise see a nearly empty queue (autovacuum analyzes a
 *   minute later at best, the embedded engine never); within a minute of the last, only if its
 *   rows grew by half (`planRound`);
 * - vacuums a table that autovacuum does not look after (the embedded engine, or a server with
 *   autovacuum off) once 1% of its rows (at least 1,000) are dead: the dead index entries of the
 *   queue are what the claim and /metrics would otherwise walk over. Where autovacuum runs, it does
 *   this itself, tuned by migration 010.
 * The closer tells the runner how many deliveries it added, so a burst is analyzed at once rather
 * than at the next round (on PostgreSQL such an early round only analyzes: `runMaintenanceRound`).
 *
 * Each operation is one VACUUM or one ANALYZE of one table, and the next waits as long as it took
 * (one turn of the event loop at least) and for the store to answer what was asked meanwhile: on
 * the embedded engine an operation stops every other statement, so the service answers between
 * two short ones rather than after a round of them (docs/design.md, "Maintenance off the hot path").
 */

export const ANALYZE_MIN_CHANGES = 2000;
export const ANALYZE_FRACTION = 0.5;
export const VACUUM_MIN_DEAD = 1000;
export const VACUUM_FRACTION = 0.01;
/**
 * A table analyzed less than this long ago is analyzed again only if its rows grew by half (2,000
 * at least) since they were last counted: as autovacuum, which visits a table at most once per
 * naptime (a minute by default).
 */
export const ANALYZE_NAP_MS = 60_000;
/** A round's claim lasts this long: a process that dies mid-round holds it no longer. */
const LEASE_MS = 15 * 60_000;
/** The embedded engine's sweep of every table (statistics and dead rows: `sweepStore`), this often. */
const EMBEDDED_SWEEP_EVERY_MS = 10 * 60_000;

export type MaintenanceOp = 'VACUUM' | 'ANALYZE' | 'ANALYZE ONLY';

/** One operation: a VACUUM or an ANALYZE of one table. */
export interface MaintenanceStep {
  table: string;
  qualified: string;
  op: MaintenanceOp;
}

/**
 * What a round does with the tables' counters: a pure function, tested on its own. A table that
 * needs both is vacuumed first, then analyzed (as `VACUUM ANALYZE` would), in two operations.
 *
 * A table analyzed within `ANALYZE_NAP_MS` waits, however much it changed, unless its rows grew by
 * half: a queue's rows come and go (a window until it closes, a delivery from pending to
 * succeeded), so its changes reach the threshold over and over while what the planner knows of it
 * stays true. `contact_windows` was analyzed in nearly every round, every 2 s at 500 writes/s, each
 * time stopping the embedded engine for 3-83 ms, and the deliveries' partition every few rounds
 * (250-320 ms of a PostgreSQL core each while young; BENCHMARKS.md, "Session 16"). A burst still
 * has its table analyzed at once: its rows grow.
 */
export function planRound(stats: readonly TableStats[]): MaintenanceStep[] {
  const plan: MaintenanceStep[] = [];
  for (const t of stats) {
    const step = (op: MaintenanceOp) => plan.push({ table: t.table, qualified: t.qualified, op });
    if (!t.autovacuum && t.dead >= Math.max(VACUUM_MIN_DEAD, t.rows * VACUUM_FRACTION)) step('VACUUM');
    const threshold = Math.max(ANALYZE_MIN_CHANGES, t.rows * ANALYZE_FRACTION);
    const napping = t.msSinceAnalyze !== undefined && t.msSinceAnalyze < ANALYZE_NAP_MS;
    if (t.changedSinceAnalyze >= threshold && (!napping || t.liveRows - t.rows >= threshold)) step('ANALYZE');
  }
  return plan;
}

export interface RoundReport {
  done: { table: string; op: MaintenanceOp; ms: number }[];
}

/**
 * After something that kept the store busy for `ms`: a pause as long (a turn of the event loop at
 * least), then an answer from the store to a statement asked after everything that waited
 * meanwhile. The engine's other work comes between two maintenance operations, and maintenance
 * takes at most about half of the engine's time while it runs.
 */
async function breathe(db: Db, ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(1, ms)));
  await db.ping();
}

/** Runs `steps` one at a time into `done`, each followed by `breathe`. */
async function runSteps(db: Db, steps: readonly MaintenanceStep[], done: RoundReport['done']) {
  for (const { table, qualified, op } of steps) {
    const t0 = performance.now();
    if (op === 'VACUUM') await vacuumTable(db, qualified);
    else await analyzeTable(db, qualified, op === 'ANALYZE ONLY');
    const ms = performance.now() - t0;
    done.push({ table, op, ms: Math.round(ms) });
    await breathe(db, ms);
  }
}

/**
 * One round, if this process wins it (undefined otherwise): reads the counters, runs what
 * `planRound` asks for, and schedules the next round `everyMs` later. `early` claims the round
 * before it is due (a burst was just written).
 *
 * On PostgreSQL a round run early only analyzes, and leaves the next round when it was: there a
 * VACUUM stops nothing, it costs the server CPU, and most of it is its pass over every index,
 * whole, however few rows are dead. Early rounds came as often as the closer added 2,000
 * deliveries (every second at 1,000 writes/s), and each vacuumed the queue again (BENCHMARKS.md,
 * "Session 16"). On the embedded engine a round vacuums whenever it runs: each operation stops
 * the service, and a VACUUM of a few seconds' dead rows stops it for less time than one of ten.
 */
export async function runMaintenanceRound(
  db: Db,
  opts: { holder: string; everyMs: number; early?: boolean },
): Promise<RoundReport | undefined> {
  const claim = await claimRound(db, 'queue', opts.holder, LEASE_MS, opts.early === true);
  if (!claim) return undefined;
  const full = claim.due || db.engine === 'pglite';
  const report: RoundReport = { done: [] };
  try {
    const t0 = performance.now();
    // reading the counters takes the engine 15-25 ms (embedded, BENCHMARKS.md): not right before a VACUUM
    const planned = planRound(await tableStats(db, MAINTAINED_TABLES));
    const steps = full ? planned : planned.filter((s) => s.op !== 'VACUUM');
    if (steps.length > 0) await breathe(db, performance.now() - t0);
    await runSteps(db, steps, report.done);
  } finally {
    await finishRound(db, 'queue', opts.holder, full ? opts.everyMs : undefined, report);
  }
  return report;
}

/**
 * The embedded store's sweep (PGlite runs no autovacuum): every table of the schema vacuumed and
 * analyzed, one operation at a time as in a round. Returns what was done.
 */
export async function sweepStore(db: Db): Promise<RoundReport> {
  const steps: MaintenanceStep[] = [];
  for (const t of await sweptTables(db)) {
    const step = (op: MaintenanceOp) => steps.push({ table: t.table, qualified: t.qualified, op });
    if (t.vacuum) step('VACUUM');
    if (t.analyze) step(t.analyze === 'only' ? 'ANALYZE ONLY' : 'ANALYZE');
  }
  const report: RoundReport = { done: [] };
  await runSteps(db, steps, report.done);
  return report;
}

export interface Maintenance {
  /** The closer added `n` deliveries: past 2,000 since the last round, a round runs now. */
  grew(n: number): void;
  stop(): Promise<void>;
}

export function startMaintenance(db: Db, log: Logger, opts: { everyMs: number }): Maintenance {
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  let added = 0;
  let early = false;
  let lastSweep = performance.now();
  const loop = new WorkLoop({
    name: 'maintenance',
    log,
    idleMs: opts.everyMs,
    step: async () => {
      const wasEarly = early;
      early = false;
      added = 0;
      const report = await runMaintenanceRound(db, { holder, everyMs: opts.everyMs, early: wasEarly });
      if (report && report.done.length > 0) log.debug(report, 'delivery queue maintained');
      // PGlite runs no autovacuum: every table's statistics and dead rows are this loop's too (not
      // at start: a freshly started store has nothing to vacuum, and start-up should be quick)
      if (db.engine === 'pglite' && performance.now() - lastSweep >= EMBEDDED_SWEEP_EVERY_MS) {
        const t0 = performance.now();
        const { done } = await sweepStore(db);
        lastSweep = performance.now();
        log.debug({ ms: Math.round(lastSweep - t0), done }, 'embedded store vacuumed and analyzed');
      }
      return { more: false, nextInMs: opts.everyMs };
    },
  });
  loop.start();
  return {
    grew: (n) => {
      added += n;
      if (added < ANALYZE_MIN_CHANGES) return;
      added = 0;
      early = true;
      loop.wake();
    },
    stop: () => loop.stop(),
  };
}
