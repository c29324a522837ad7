/**
 * The admin reads of the data-scale benchmark (`data-scale.ts`), timed and their pages counted on
 * one database: a page of a 1.5M-delivery subscription's failed deliveries, a page of any status,
 * and a replay of its failed deliveries of the last day with its bound, rolled back.
 *
 * The replay is timed on equal work: each database is given, for that phase only, as many failed
 * deliveries inside the replay's window as the filled database has (`seedReplayRows`), so that the
 * empty and month databases requeue the same rows as the filled one and "filled ÷ month" measures
 * the stored volume, not the rows returned. The rows each replay requeued are reported beside it.
 */
import { loadConfig } from '../src/config.js';
import { enforceReplayBound } from '../src/api/quotas.js';
import { assumeOneSnapshot, type Db, type Queryable } from '../src/store/db.js';
import { listDeliveries } from '../src/store/deliveries/read.js';
import { replay } from '../src/store/deliveries/replay.js';
import { countReplay } from '../src/store/quotas.js';
import { progress } from './lib.js';

export interface Timing {
  first: number;
  median: number;
  /** pages (8 kB) touched, from EXPLAIN (ANALYZE, BUFFERS) */
  pages?: number;
  /** rows the statement changed (the replay: requeued) */
  rows?: number;
}

/** Milliseconds of `fn`, run `n` times: the first run and the median of the rest. */
export async function timed(n: number, fn: () => Promise<unknown>): Promise<Timing> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  const rest = ms.slice(1).sort((a, b) => a - b);
  return { first: ms[0]!, median: rest.length > 0 ? rest[Math.floor(rest.length / 2)]! : ms[0]! };
}

export class Rollback extends Error {}

export const ignoreRollback = (err: unknown) => {
  if (!(err instanceof Rollback)) throw err;
};

interface PlanNode {
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
}

/**
 * `q` with every statement run under EXPLAIN (ANALYZE, BUFFERS): the pages (8 kB) each touched are
 * added to `pages.n`, a figure that does not depend on the machine's load. Statements that modify run
 * for real (callers roll them back) and answer nothing; a SELECT is run again for its answer (what
 * the caller reads next depends on it: a delivery's attempts, the partitions to look in).
 */
export function counting<Q extends Queryable>(q: Q, pages: { n: number }): Q {
  const query = async <R extends object>(text: string, params?: readonly unknown[]) => {
    const res = await q.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`,
      params,
    );
    const plan = res.rows[0]!['QUERY PLAN'][0]!.Plan;
    pages.n += (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
    if (/^\s*SELECT\b/i.test(text)) return q.query<R>(text, params);
    return { rows: [] as R[], rowCount: 0 };
  };
  return Object.create(q, { query: { value: query } }) as Q;
}

/** The failed deliveries a replay of `subscriptionId` since `since` requeues (its bound's count). */
export const failedSince = (db: Queryable, subscriptionId: string, since: Date): Promise<number> =>
  countReplay(db, subscriptionId, since, 'failed', Number.MAX_SAFE_INTEGER - 1);

const SEEDED = 'seed_';

/**
 * Gives `subscriptionId` failed deliveries created after `since` until a failed replay since then
 * requeues `rows` of them, as the fill makes them (one event each, in the current partition, spread
 * evenly between `since` and now; two attempts' outcome, HTTP 500). Returns how many were added
 * (none on the filled database); `unseedReplayRows` takes them out again.
 */
export async function seedReplayRows(db: Db, subscriptionId: string, since: Date, rows: number) {
  const n = rows - (await failedSince(db, subscriptionId, since));
  if (n <= 0) return 0;
  await db.query(
    `WITH s AS (
       SELECT s.organization_id, (SELECT min(l.id) FROM locations l WHERE l.organization_id = s.organization_id) AS loc
       FROM subscriptions s WHERE s.id = $1),
     ev AS (
       INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                           event_timestamp, data)
       SELECT 'evt_${SEEDED}' || k, 'win_${SEEDED}' || k, 0, 'contact.updated', k, s.loc, s.organization_id,
              $2::timestamptz + k * (now() - $2::timestamptz) / ($3::int + 1),
              jsonb_build_object('contactId', k, 'changes', '{}'::jsonb)
       FROM s, generate_series(1, $3::int) k
       RETURNING seq, contact_id, event_timestamp)
     INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, next_attempt_at,
                             last_status_code, last_error, created_at, completed_at)
     SELECT 'dlv_${SEEDED}' || ev.seq, $1, ev.seq, ev.contact_id, 'failed', 2, ev.event_timestamp + interval '1 second',
            500, 'HTTP 500', ev.event_timestamp + interval '1 second',
            ev.event_timestamp + interval '1 second 50 milliseconds'
     FROM ev`,
    [subscriptionId, since, n],
  );
  return n;
}

/** Takes out what `seedReplayRows` added (and vacuums it away), so that later phases find none of it. */
export async function unseedReplayRows(db: Db) {
  const { rowCount } = await db.query(`DELETE FROM deliveries WHERE id LIKE 'dlv_${SEEDED}%'`);
  await db.query(`DELETE FROM events WHERE event_id LIKE 'evt_${SEEDED}%'`);
  if (rowCount > 0) await db.query(`VACUUM ANALYZE deliveries, events`);
}

/**
 * The admin reads on `db`: the lists first (on the database as it is), then the replay since `since`
 * on `replayRows` failed deliveries (seeded where fewer, taken out after).
 */
export async function measureReads(
  label: string,
  db: Db,
  bigSubscription: string,
  since: Date,
  replayRows: number,
): Promise<Record<string, Timing>> {
  progress(`${label}: reads`);
  const quotas = loadConfig({}).quotas;
  const r: Record<string, Timing> = {};
  // (the reads alone, outside the snapshot the API reads them in: nothing writes meanwhile)
  const quiet = assumeOneSnapshot(db);
  r.listFailed = await timed(6, () =>
    listDeliveries(quiet, bigSubscription, { status: 'failed', limit: 50 }),
  );
  r.listAll = await timed(6, () => listDeliveries(quiet, bigSubscription, { limit: 50 }));
  const listPages = { n: 0 };
  await listDeliveries(counting(quiet, listPages), bigSubscription, { status: 'failed', limit: 50 });
  r.listFailed.pages = listPages.n;

  const seeded = await seedReplayRows(db, bigSubscription, since, replayRows);
  if (seeded > 0) {
    progress(`${label}: ${seeded} failed deliveries added for the replay`);
    await db.query(`VACUUM ANALYZE deliveries, events`); // as the filled database's were after its fill
  }
  let requeued = 0;
  r.replayFailed = await timed(6, () =>
    db
      .transaction(async (tx) => {
        await enforceReplayBound(tx, quotas, { subscriptionId: bigSubscription, since, status: 'failed' });
        requeued = (await replay(tx, bigSubscription, since, 'failed')).requeued;
        throw new Rollback();
      })
      .catch(ignoreRollback),
  );
  r.replayFailed.rows = requeued;
  // the replay's own statement (its bound, a count, answers nothing under EXPLAIN), rolled back
  const replayPages = { n: 0 };
  await db
    .transaction(async (tx) => {
      await replay(counting(tx, replayPages), bigSubscription, since, 'failed');
      throw new Rollback();
    })
    .catch(ignoreRollback);
  r.replayFailed.pages = replayPages.n;
  if (seeded > 0) await unseedReplayRows(db);
  return r;
}
