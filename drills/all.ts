/**
 * Runs every drill, one after the other (they share two cores with everything else), and fails if
 * any fails. `--short` is the CI set: each drill bounded to well under a minute of load.
 *
 *   npx tsx drills/all.ts --short
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/procs.js';

const usage = `usage: npx tsx drills/all.ts [--short] [--built]

Runs each drill in turn and prints one line per drill at the end; exits 1 if any failed.
  --short   the CI versions (a few minutes in all); without it, the long versions (about an hour)
  --built   run dist/cli.js instead of the TypeScript source`;

const { values } = parseArgs({
  options: { short: { type: 'boolean' }, built: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const SHORT: [string, ...string[]][] = [
  ['bad-requests.ts', '--requests', '1500'],
  ['kill9.ts', '--engine', 'postgres', '--seconds', '15', '--kill-every', '5'],
  ['pg-restart.ts', '--seconds', '25', '--restart-every', '6'],
  ['receiver-down.ts', '--down-seconds', '20'],
  // latency bounds only in the long runs: a loaded CI machine could fail them for no fault
  ['hanging.ts', '--seconds', '10', '--no-latency-check'],
  ['isolation.ts', '--seconds', '12', '--starvation-only'],
  ['scale.ts', '--contacts', '1000'],
  ['scale.ts', '--contacts', '3000', '--answer-ms', '100'],
];
const LONG: [string, ...string[]][] = [
  ['bad-requests.ts', '--requests', '50000'],
  ['kill9.ts', '--engine', 'postgres', '--seconds', '600'],
  ['kill9.ts', '--engine', 'pglite', '--seconds', '300', '--kill-every', '15'],
  ['pg-restart.ts', '--seconds', '300'],
  ['receiver-down.ts', '--down-seconds', '300'],
  ['hanging.ts', '--seconds', '120'],
  ['isolation.ts', '--seconds', '60'],
  ['scale.ts', '--contacts', '20000'],
  ['scale.ts', '--contacts', '20000', '--answer-ms', '100'],
];

const results: string[] = [];
let failed = 0;
const started = Date.now();
for (const [script, ...args] of values.short ? SHORT : LONG) {
  const argv = [...args, ...(values.built ? ['--built'] : [])];
  process.stderr.write(`\n== drills/${script} ${argv.join(' ')}\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'drills', script), ...argv], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const ok = r.status === 0;
  if (!ok) failed++;
  results.push(
    `${ok ? 'PASS' : 'FAIL'}  ${script} ${argv.join(' ')}  (${Math.round((Date.now() - t0) / 1000)} s)`,
  );
}
process.stdout.write(
  `\n== drills: ${results.length - failed} passed, ${failed} failed in ${Math.round((Date.now() - started) / 1000)} s\n`,
);
for (const line of results) process.stdout.write(`   ${line}\n`);
process.exit(failed ? 1 : 0);
