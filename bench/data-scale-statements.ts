/**
 * Where the delivery phase of the data-scale benchmark spends its database time: runs the delivery
 * throughput (`data-scale-throughput.ts`) on databases a `data-scale.ts --fill-only` run left, in
 * turn (A, B, B, A...), and times every statement the service sends meanwhile, from the client (so
 * a statement's time includes its round trip and its wait on locks). Prints, per database, the
 * deliveries per second and the statements that took the most time, with their counts.
 *
 *   flock /tmp/fpt-bench.lock npx tsx bench/data-scale-statements.ts [--dbs fpt_scale_month,fpt_scale_filled]
 *
 * `fpt_scale_month` (empty, a month of partitions) is made afresh when missing.
 */
import { Command } from 'commander';
import { startMaintenance } from '../src/events/maintenance.js';
import { createLogger } from '../src/log.js';
import type { Db } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { PostgresDb } from '../src/store/postgres.js';
import { fillDatabase } from './data-scale-fill.js';
import { backlogThroughput, benchLocation, deliveryThroughput } from './data-scale-throughput.js';
import { machine, PG_URL, progress, ReceiverProcess } from './lib.js';
import { recordStatements, statementReport, type StatementTable } from './statement-times.js';

const opts = new Command('data-scale-statements')
  .option('--dbs <names>', 'the databases, comma-separated', 'fpt_scale_month,fpt_scale_filled')
  .option('--contacts <n>', 'contacts written per run (3 events each)', '10000')
  .option('--rounds <n>', 'runs per database (alternated)', '2')
  .option('--top <n>', 'statements shown per database', '12')
  .option('--backlog', "a backlog's throughput instead: windows closed first, every delivery claimed")
  .parse()
  .opts<{ dbs: string; contacts: string; rounds: string; top: string; backlog?: boolean }>();

const urlOf = (name: string) => {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.href;
};

const log = createLogger('warn');
const names = opts.dbs.split(',');
const admin = new PostgresDb({ connectionString: PG_URL, maxConnections: 1 });
const dbs = new Map<string, Db>();
for (const name of names) {
  const { rows } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
  if (rows.length === 0) {
    if (name !== 'fpt_scale_month')
      throw new Error(`no database ${name}: fill it with data-scale.ts --fill-only`);
    await admin.query(`CREATE DATABASE ${name}`);
    const db = new PostgresDb({ connectionString: urlOf(name), maxConnections: 8 });
    await migrate(db);
    await fillDatabase(db, 0, true);
    await db.close();
  }
  const db = new PostgresDb({ connectionString: urlOf(name), maxConnections: 8 });
  await migrate(db);
  dbs.set(name, db);
}
const receiver = await ReceiverProcess.start();
const results = new Map(names.map((n) => [n, { rates: [] as number[], stats: new Map() as StatementTable }]));
const order: string[] = [];
for (let r = 0; r < Number(opts.rounds); r++) order.push(...(r % 2 === 0 ? names : [...names].reverse()));
try {
  for (const name of order) {
    const db = dbs.get(name)!;
    const res = results.get(name)!;
    const maintenance = startMaintenance(db, log, { everyMs: 10_000 });
    const write = await benchLocation(db, receiver.url);
    progress(`${name}: delivery throughput`);
    const run = { label: name, contacts: Number(opts.contacts), write, receiver, maintenance, log };
    const perSecond = opts.backlog
      ? await backlogThroughput(db, { ...run, onStart: () => recordStatements(res.stats) })
      : await deliveryThroughput(db, { ...run, onStart: () => recordStatements(res.stats) });
    recordStatements(undefined);
    await maintenance.stop();
    res.rates.push(perSecond);
    progress(`${name}: ${perSecond} deliveries/s`);
  }
} finally {
  recordStatements(undefined);
  await receiver.stop();
  for (const db of dbs.values()) await db.close();
  await admin.close();
}
console.log(
  `# data-scale statements: ${machine()}; ${opts.contacts} contacts a run; order ${order.join(', ')}`,
);
for (const [name, res] of results) {
  console.log(`\n## ${name}: deliveries/s ${res.rates.join(', ')}`);
  console.log(statementReport(res.stats, res.rates.length, Number(opts.top)));
}
