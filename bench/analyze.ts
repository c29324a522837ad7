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
import { createLocation, createOrganization } from '../src/store/tenants.js';
import { machine, openBenchDb, parseEngines, progress } from './lib.js';

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

/** The payload columns migration 017 takes out of ANALYZE, by table. */
const PAYLOADS: Record<string, string[]> = {
  events: ['data', 'traceparent'],
  deliveries: ['last_error', 'test_payload'],
  delivery_attempts: ['error', 'response_body'],
};

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
  const org = await createOrganization(db, 'Analyze org');
  const location = await createLocation(db, {
    name: 'Analyze gym',
    organizationId: org.id,
    defaultContactGroupId: 1,
  });
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

async function setTargets(db: Db, target: 0 | -1): Promise<void> {
  for (const [table, cols] of Object.entries(PAYLOADS))
    await db.query(
      `ALTER TABLE ${table} ${cols.map((c) => `ALTER COLUMN ${c} SET STATISTICS ${target}`).join(', ')}`,
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
    for (const table of Object.keys(PAYLOADS)) {
      const times: Record<'with' | 'without', number[]> = { with: [], without: [] };
      for (let r = 0; r < ROUNDS; r++) {
        for (const mode of ['with', 'without'] as const) {
          await setTargets(store.db, mode === 'with' ? -1 : 0);
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
