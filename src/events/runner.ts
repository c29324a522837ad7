import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { WorkLoop } from '../loop.js';
import type { Db } from '../store/db.js';
import { purgeAudit } from '../store/audit-log.js';
import { purgeEvents } from '../store/events.js';
import { purgeIdempotencyKeys } from '../store/idempotency.js';
import { purgePortalSessions } from '../store/portal-sessions.js';
import { msUntilNextWindow } from '../store/windows.js';
import type { DeliveryWorker } from '../delivery/worker.js';
import type { Metrics } from '../metrics.js';
import { closeDueWindows } from './close-windows.js';

/** Windows closed per transaction: large enough to amortize statements, small enough to keep locks short. */
export const CLOSE_BATCH = 2000;
const PURGE_BATCH = 10_000;
const HOUR = 3_600_000;

export interface Runner {
  stop(): Promise<void>;
}

/**
 * Closes windows as they fall due. A contact write signals the `windows` channel on commit (from
 * this process or another sharing the database), which wakes the loop to re-read the next due
 * time; between signals it sleeps exactly until then. Open windows live in the database, so a
 * restarted process simply finds them and closes the overdue ones first. With a local delivery
 * worker, the new deliveries it has room for are handed to it straight from the closing
 * transaction.
 */
/** On the embedded engine, windows are closed at most this often (see `startCoalescer`). */
const EMBEDDED_CLOSE_PACE_MS = 50;

export async function startCoalescer(
  db: Db,
  log: Logger,
  worker?: DeliveryWorker,
  metrics?: Metrics,
): Promise<Runner> {
  const stats = new QueueStatistics(db, log);
  let lastClose = -Infinity;
  const loop = new WorkLoop({
    name: 'coalescer',
    log,
    idleMs: 30_000,
    step: async () => {
      if (db.engine === 'pglite') {
        // The embedded engine pays milliseconds per transaction: under a stream of small writes,
        // closing each window in its own transaction as it fell due took more time than the
        // writes themselves (300 events/s saturated it). Closing at most every 50 ms gathers them
        // (an idle closer, whose last close is long past, never waits).
        const wait = lastClose + EMBEDDED_CLOSE_PACE_MS - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        lastClose = performance.now();
      }
      const r = await closeDueWindows(db, { limit: CLOSE_BATCH, handOff: worker?.handOffBudget() });
      worker?.accept(r.handedOff);
      metrics?.closed(r.windows, r.eventTypes);
      await stats.grew(r.deliveries);
      if (r.windows > 0) log.debug({ windows: r.windows, events: r.events }, 'windows closed');
      if (r.windows === CLOSE_BATCH) return { more: true };
      const next = await msUntilNextWindow(db);
      return {
        more: next !== undefined && next <= 0,
        nextInMs: next === undefined ? undefined : Math.ceil(next),
      };
    },
  });
  const unlisten = await db.listen('windows', () => loop.wake());
  loop.start();
  return {
    stop: async () => {
      await unlisten();
      await loop.stop();
    },
  };
}

/**
 * Keeps the planner's statistics of the delivery queue in step with bursts. Autovacuum analyzes a
 * table a minute after it changed at best (never, on the embedded engine), and with statistics of a
 * nearly empty queue the planner scans and hashes the whole table for statements that look up a
 * few hundred deliveries by id. So the closer, which knows how many deliveries it has just added,
 * analyzes the queue itself once it has grown by half (at least 2,000 rows) since the last time.
 */
class QueueStatistics {
  private added = 0;
  private rows = 0;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  async grew(n: number): Promise<void> {
    this.added += n;
    if (this.added < Math.max(2000, this.rows / 2)) return;
    this.added = 0;
    const t0 = performance.now();
    await this.db.query('ANALYZE deliveries, delivery_attempts');
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT reltuples::float8 AS n FROM pg_class WHERE oid = 'deliveries'::regclass`,
    );
    this.rows = Math.max(0, rows[0]?.n ?? 0);
    this.log.debug({ rows: this.rows, ms: Math.round(performance.now() - t0) }, 'delivery queue analyzed');
  }
}

const MAINTENANCE_EVERY_MS = 10 * 60_000;

/**
 * Vacuums and analyzes the embedded store. PGlite runs no autovacuum: without this the queue
 * tables would bloat and the planner would never get statistics. (A PostgreSQL server has its own
 * autovacuum; nothing to do there.)
 */
export async function runMaintenance(db: Db): Promise<void> {
  await db.query('VACUUM ANALYZE');
}

export function startMaintenance(db: Db, log: Logger): Runner | undefined {
  if (db.engine !== 'pglite') return undefined;
  let first = true;
  const loop = new WorkLoop({
    name: 'maintenance',
    log,
    idleMs: MAINTENANCE_EVERY_MS,
    step: async () => {
      // not at start: a freshly started store has nothing to vacuum, and start-up should be quick
      if (!first) {
        const t0 = performance.now();
        await runMaintenance(db);
        log.debug({ ms: Math.round(performance.now() - t0) }, 'embedded store vacuumed and analyzed');
      }
      first = false;
      return { more: false, nextInMs: MAINTENANCE_EVERY_MS };
    },
  });
  loop.start();
  return { stop: () => loop.stop() };
}

/**
 * Deletes events and audit-log entries past their retention periods (and the window log with the
 * events), idempotency keys past 24 hours, and portal links and sessions a day after they expired,
 * hourly and at start, in batches.
 */
export function startEventPurge(
  db: Db,
  config: Pick<Config, 'eventRetentionDays' | 'auditRetentionDays'>,
  log: Logger,
): Runner {
  const loop = new WorkLoop({
    name: 'event-purge',
    log,
    idleMs: HOUR,
    step: async () => {
      const n = await purgeEvents(db, config.eventRetentionDays, PURGE_BATCH);
      if (n > 0) log.info({ purged: n, retentionDays: config.eventRetentionDays }, 'old events purged');
      const audit = await purgeAudit(db, config.auditRetentionDays, PURGE_BATCH);
      if (audit > 0)
        log.info({ purged: audit, retentionDays: config.auditRetentionDays }, 'old audit-log entries purged');
      const keys = await purgeIdempotencyKeys(db, PURGE_BATCH);
      if (keys > 0) log.info({ purged: keys }, 'idempotency keys past 24 hours purged');
      const portal = await purgePortalSessions(db, config.eventRetentionDays, PURGE_BATCH);
      if (portal > 0)
        log.info({ purged: portal }, 'expired portal links and sessions, old window log purged');
      return { more: Math.max(n, audit, keys, portal) >= PURGE_BATCH, nextInMs: HOUR };
    },
  });
  loop.start();
  return { stop: () => loop.stop() };
}
