/**
 * What ANALYZE of the queue's tables costs, with the payload columns' statistics gathered (the
 * default) and without (migration 017), alternated in one run on each engine. The maintenance runner
 * analyzes these tables after bursts; on the embedded engine it runs in the service's own thread,
 * so its time is a stall of everything else.
 *
 *   npx tsx bench/analyze.ts [--engine pglite|postgres|both] [--events 60000] [--rounds 3]
 *
 * The tables are filled by SQL: `--events` events with a contact's payload, one delivery each and
 * one attempt each with a short answer body. Run under `flock /tmp/fpt-bench.lock` on a shared machine.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Db } from '../src/store/db.js';
import { createSubscription } from '../src/store/subscriptions.js';
import { benchTenant, machine, openBenchDb, parseEngines, progress } from './lib.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'both' },
    events: { type: 'string', default: '60000' },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`usage: npx tsx bench/analyze.ts [--engine pglite|postgres|both] [--events 60000] [--rounds 3]

Times ANALYZE of events, deliveries and delivery_attempts with and without the payload columns'
statistics (migration 017), alternated. Run under flock /tmp/fpt-bench.lock.`);
  process.exit(0);
}
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);

/** The tables timed: the queue's, whose payloads migration 017 takes out of ANALYZE. */
const TABLES = ['events', 'deliveries', 'delivery_attempts'];

/** The columns of `table` whose statistics the migrations turned off (target 0): its payloads. */
async function payloadColumns(db: Db, table: string): Promise<string[]> {
  const { rows } = await db.query<{ att: string }>(
    `SELECT attname AS att FROM pg_attribute
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attstattarget = 0 ORDER BY attnum`,
    [table],
  );
  return rows.map((r) => r.att);
}

async function fill(db: Db): Promise<void> {
  await db.query(
    `INSERT INTO events (event_id, window_id, position, event_type, contact_id, location_id, organization_id,
                         event_timestamp, data)
     SELECT 'evt_' || g, 'win_' || g, 0, 'contact.updated', g, 1, 1, now(),
            jsonb_build_object('contactId', g, 'changes', jsonb_build_object('contactGroupId', jsonb_build_object('from', 1, 'to', 2)),
              'contact', jsonb_build_object('firstName', 'Bench', 'lastName', 'Person ' || g, 'email', 'p' || g || '@example.com',
                'phone', '+1555' || g, 'contactGroupId', 2, 'isActive', true, 'locationId', 1))
     FROM generate_series(1, $1::int) g`,
    [EVENTS],
  );
  const { org, location } = await benchTenant(db);
  const sub = await createSubscription(db, {
    url: 'https://analyze.example.com/hook',
    eventTypes: null,
    locationId: location.id,
    organizationId: org.id,
    description: null,
    secret: 'whsec_analyze',
  });
  await db.query(
    `INSERT INTO deliveries (id, subscription_id, event_seq, contact_id, status, attempts, completed_at)
     SELECT 'dlv_' || seq, $1, seq, contact_id, 'succeeded', 1, now() FROM events`,
    [sub.id],
  );
  await db.query(
    `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, outcome, event_seq)
     SELECT id, 1, now(), 12, 200, '{"ok":true,"received":"' || id || '"}', 'succeeded', event_seq FROM deliveries`,
  );
}

async function setTargets(db: Db, table: string, columns: string[], target: 0 | -1): Promise<void> {
  await db.query(
    `ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} SET STATISTICS ${target}`).join(', ')}`,
  );
}

async function timeAnalyze(db: Db, table: string): Promise<number> {
  const t0 = performance.now();
  await db.query(`ANALYZE ${table}`);
  return performance.now() - t0;
}

console.log(`# ANALYZE with and without the payloads' statistics: ${machine()}, ${EVENTS} events\n`);
console.log(
  '| engine | table | with payload statistics (ms, each round) | without (ms, each round) | ratio of medians | load avg |',
);
console.log('|---|---|---|---|---|---|');
for (const engine of parseEngines(values.engine)) {
  const store = await openBenchDb(engine);
  try {
    progress(`${engine}: filling ${EVENTS} events, deliveries and attempts`);
    await fill(store.db);
    for (const table of TABLES) {
      const columns = await payloadColumns(store.db, table);
      if (columns.length === 0) throw new Error(`${table}: no column without statistics (migration 017)`);
      const times: Record<'with' | 'without', number[]> = { with: [], without: [] };
      for (let r = 0; r < ROUNDS; r++) {
        for (const mode of ['with', 'without'] as const) {
          await setTargets(store.db, table, columns, mode === 'with' ? -1 : 0);
          times[mode].push(await timeAnalyze(store.db, table));
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
      console.log(
        `| ${engine} | ${table} | ${fmt(times.with)} | ${fmt(times.without)} | ${(median(times.with) / median(times.without)).toFixed(2)} | ${loadavg()
          .map((l) => l.toFixed(2))
          .join(', ')} |`,
      );
    }
  } finally {
    await store.close();
  }
}
