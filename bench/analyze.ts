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
import { machine, openBenchDb, parseEngines, progress } from './lib.js';
import { fillQueue } from './queue-fill.js';

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
    await fillQueue(store.db, EVENTS);
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
