import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { WorkLoop } from '../loop.js';
import type { Db } from '../store/db.js';
import type { NextWindow } from '../store/windows.js';
import type { DeliveryWorker } from '../delivery/worker.js';
import type { Metrics } from '../metrics.js';
import { closeDueWindows } from './close-windows.js';
import type { Maintenance } from './maintenance.js';
import { retentionRound } from './retention.js';

/** Windows closed per transaction: large enough to amortize statements, small enough to keep locks short. */
export const CLOSE_BATCH = 2000;
const PURGE_BATCH = 10_000;
const HOUR = 3_600_000;

export interface Runner {
  stop(): Promise<void>;
}

/**
 * Due windows that another transaction holds are asked for again this long after (or at once when a
 * write signals `windows`): see `afterClose`.
 */
export const HELD_RETRY_MS = 1000;

/**
 * What the closer does after a batch smaller than its limit, from the windows its transaction saw
 * left open: closes again at once what fell due meanwhile, else sleeps until the next is due.
 * A window that was already due and is still open is held by another transaction: a writer's,
 * whose commit signals `windows` and wakes the loop, or another process's closer, which will
 * delete it. Asking for it again at once would only find it locked again: the closer spun,
 * claiming nothing, for as long as the other transaction lasted. It waits for the signal instead,
 * or `heldRetryMs` at most (should that transaction fail).
 */
export function afterClose(next: NextWindow, heldRetryMs: number): { more: boolean; nextInMs?: number } {
  if (next.ms !== undefined && next.ms <= 0) return { more: true };
  const wait = next.heldDue ? Math.min(heldRetryMs, next.ms ?? Infinity) : next.ms;
  return { more: false, ...(wait === undefined ? {} : { nextInMs: Math.ceil(wait) }) };
}

/** On the embedded engine, windows are closed at most this often (see `startCoalescer`). */
const EMBEDDED_CLOSE_PACE_MS = 50;

/**
 * Closes windows as they fall due. A contact write signals the `windows` channel on commit (from
 * this process or another sharing the database), which wakes the loop to re-read the next due
 * time; between signals it sleeps exactly until then. Open windows live in the database, so a
 * restarted process simply finds them and closes the overdue ones first. With a local delivery
 * worker, the new deliveries it has room for are handed to it straight from the closing
 * transaction. `opts.heldRetryMs`: see `afterClose` (tests set it).
 */
export async function startCoalescer(
  db: Db,
  log: Logger,
  worker?: DeliveryWorker,
  metrics?: Metrics,
  maintenance?: Pick<Maintenance, 'grew'>,
  opts: { heldRetryMs?: number } = {},
): Promise<Runner> {
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
      // the statistics of the grown queue are the maintenance loop's business, never this loop's
      maintenance?.grew(r.deliveries);
      if (r.windows > 0) log.debug({ windows: r.windows, events: r.events }, 'windows closed');
      if (r.windows === CLOSE_BATCH) return { more: true };
      return afterClose(r.next, opts.heldRetryMs ?? HELD_RETRY_MS);
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
 * Keeps partitions ahead of the writes and drops those past the retention period; deletes test
 * deliveries, audit-log entries and (when configured) contact history past theirs, and idempotency
 * keys past 24 hours; hourly and at start, in batches (see `events/retention.ts`).
 */
export function startEventPurge(
  db: Db,
  config: Pick<Config, 'eventRetentionDays' | 'auditRetentionDays' | 'retention'>,
  log: Logger,
): Runner {
  const loop = new WorkLoop({
    name: 'event-purge',
    log,
    idleMs: HOUR,
    step: async () => {
      const more = await retentionRound(db, config, log, PURGE_BATCH);
      return { more, nextInMs: HOUR };
    },
  });
  loop.start();
  return { stop: () => loop.stop() };
}
