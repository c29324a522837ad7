/**
 * The plans of the hot queries on partitioned events, deliveries and attempts: a store with
 * `--partitions` daily partitions of `--events` events each (two subscriptions, a delivery per
 * event and subscription, an attempt per delivery, all finished but the newest partition's), then
 * the statements the service runs, each shown with `EXPLAIN (ANALYZE, BUFFERS)`: the pull API's
 * page (from a cursor in the newest partition, and from the start), a subscription's deliveries,
 * and a claim. Used for docs/design.md, "Partitioned retention".
 *
 *   npx tsx bench/partition-plans.ts [--engine pglite|postgres] [--partitions 31] [--events 2000]
 */
import { parseArgs } from 'node:util';
import { claimDeliveries } from '../src/store/deliveries/claim.js';
import { listDeliveries } from '../src/store/deliveries/read.js';
import { assumeOneSnapshot, type Db, type Queryable, type Tx } from '../src/store/db.js';
import { listEvents } from '../src/store/events.js';
import { dropExpiredPartitions, ensurePartitions, PARTITION_SPAN } from '../src/store/partitions.js';
import { benchTenant, openBenchDb, parseEngines, progress } from './lib.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'postgres' },
    partitions: { type: 'string', default: '31' },
    events: { type: 'string', default: '2000' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(
    'usage: npx tsx bench/partition-plans.ts [--engine pglite|postgres] [--partitions 31] [--events 2000]',
  );
  process.exit(0);
}
const [engine] = parseEngines(values.engine);
const PARTITIONS = Number(values.partitions);
const EVENTS = Number(values.events);

/** Runs each statement as the service would, printing its plan first (executed, for a SELECT). */
function explaining<Q extends Queryable>(q: Q, label: string): Q {
  return new Proxy(q, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
      return async (text: string, params?: readonly unknown[]) => {
        // (executed: an UPDATE of the claim then runs twice, harmless in this throwaway store)
        const opts = 'ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF';
        const { rows } = await target.query<Record<string, string>>(`EXPLAIN (${opts}) ${text}`, params);
        console.log(
          `\n-- ${label}\n${text.trim().split('\n')[0]} …\n${rows.map((r) => Object.values(r)[0]).join('\n')}`,
        );
        return target.query(text, params);
      };
    },
  });
}

const bench = await openBenchDb(engine!);
const db = bench.db;
try {
  const { location, org } = await benchTenant(db);
  for (const i of [1, 2])
    await db.query(
      `INSERT INTO subscriptions (id, organization_id, location_id, url, secret) VALUES ($1, $2, $3, 'https://example.com/', 'whsec_x')`,
      [`sub_${i}`, org.id, location.id],
    );
  for (let n = 0; n < PARTITIONS; n++) {
    progress(`partition ${n + 1} of ${PARTITIONS}`);
    const last = n === PARTITIONS - 1;
    await db.query(
      `INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                           event_timestamp, data)
       SELECT 'evt_' || $3::int || '_' || i, 'win_' || i, 0, 'contact.updated', i % 500, $1, $2, now(), '{}'
       FROM generate_series(1, $4::int) i`,
      [location.id, org.id, n, EVENTS],
    );
    await db.query(
      `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, completed_at)
       SELECT 'dlv_' || s || '_' || e.seq, 'sub_' || s, e.seq, e.contact_id,
              CASE WHEN $2 AND e.seq % 10 = 0 THEN 'pending' ELSE 'succeeded' END, 1, now()
       FROM events e CROSS JOIN generate_series(1, 2) s WHERE e.seq >= $1::bigint`,
      [n * PARTITION_SPAN, last],
    );
    await db.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, outcome, event_seq)
       SELECT id, 1, now(), 5, 200, 'succeeded', event_seq FROM deliveries WHERE event_seq >= $1::bigint`,
      [n * PARTITION_SPAN],
    );
    if (!last) {
      await db.query(`UPDATE event_partitions SET opened_at = now() - interval '2 days' WHERE n = $1`, [n]);
      await ensurePartitions(db, { partitionDays: 1 });
    }
  }
  await db.query('ANALYZE');
  const newest = (PARTITIONS - 1) * PARTITION_SPAN;
  const scope = { organizationId: null, locationId: location.id };
  await listEvents(explaining(db, 'pull API page, cursor in the newest partition'), {
    ...scope,
    after: newest + EVENTS / 2,
    limit: 100,
  });
  await listEvents(explaining(db, 'pull API page from the start (oldest partition)'), {
    ...scope,
    after: 0,
    limit: 100,
  });
  const quiet = assumeOneSnapshot(db);
  await listDeliveries(explaining(quiet, "a subscription's deliveries, newest first"), 'sub_1', {
    limit: 50,
  });
  await listDeliveries(explaining(quiet, "a subscription's deliveries, next page"), 'sub_1', {
    limit: 50,
    before: 100,
  });
  const claimDb: Pick<Db, 'transaction'> = {
    transaction: <T>(fn: (tx: Tx) => Promise<T>, o?: Parameters<Db['transaction']>[1]) =>
      db.transaction((tx) => fn(explaining(tx, 'claim')), o),
  };
  const claimed = await claimDeliveries(claimDb, {
    limit: 50,
    leaseMs: 30_000,
    subscriptionRoom: new Map(),
    defaultRoom: 50,
  });
  progress(`claimed ${claimed.chains.length} chains`);
  // retention at 7 days: every partition but the newest 8 has been closed longer than that
  await db.query(`UPDATE event_partitions SET closed_at = now() - interval '8 days' WHERE n < $1`, [
    PARTITIONS - 8,
  ]);
  const { rows: before } = await db.query<{ events: number; deliveries: number; attempts: number }>(
    `SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM deliveries) AS deliveries,
            (SELECT count(*)::int FROM delivery_attempts) AS attempts`,
  );
  const t0 = performance.now();
  const dropped = await dropExpiredPartitions(db, 7);
  console.log(
    `\n-- retention at 7 days: dropped ${dropped.length} partitions of each table in ${Math.round(performance.now() - t0)} ms` +
      ` (before: ${before[0]!.events} events, ${before[0]!.deliveries} deliveries, ${before[0]!.attempts} attempts)`,
  );
} finally {
  await bench.close();
}
