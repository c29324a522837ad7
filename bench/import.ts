/**
 * Bulk import end to end: a 100,000-row CSV imported through the real HTTP endpoint with the CLI's
 * own client (`fpt-events import`), then the `contact.created` events of every imported contact
 * delivered to a local receiver (its own process), on each engine.
 *
 *   npx tsx bench/import.ts [--engine pglite|postgres|both] [--rows 100000] [--deliver-timeout 600]
 *
 * 1. import: the CSV (externalId, firstName, lastName, email, tags) is generated to a temporary
 *    file; the service runs in this process on an ephemeral port; the clock runs from the first
 *    byte sent to the summary;
 * 2. delivery: one subscription to `contact.created` only; the coalescer and the delivery worker
 *    start after the import (windows close at once: quiet = max = 0) and the clock runs until the
 *    receiver has one event per row.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { operatorKeyFromToken } from '../src/api/auth.js';
import { buildApi } from '../src/api/server.js';
import { loadConfig } from '../src/config.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import { generateSecret } from '../src/delivery/signing.js';
import { startCoalescer } from '../src/events/runner.js';
import { runImport } from '../src/import-cli.js';
import { createLogger } from '../src/log.js';
import { createSubscription } from '../src/store/subscriptions.js';
import {
  benchTenant,
  machine,
  openBenchDb,
  parseEngines,
  progress,
  rate,
  ReceiverProcess,
  type BenchEngine,
} from './lib.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string' },
    rows: { type: 'string', default: '100000' },
    'deliver-timeout': { type: 'string', default: '600' },
  },
});
const ROWS = Number(values.rows);
// a delivery still running after this long is reported as far as it got
const DELIVER_TIMEOUT_MS = Number(values['deliver-timeout']) * 1000;
const OPERATOR = 'bench-operator-key-0123456789';

function writeCsv(file: string, rows: number): void {
  const lines = ['externalId,firstName,lastName,email,tags'];
  for (let i = 0; i < rows; i++) {
    lines.push(`m-${i},"Member ${i}",O'Brien,member${i}@example.com,bench;imported`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

async function run(engine: BenchEngine, receiver: ReceiverProcess, file: string) {
  const bench = await openBenchDb(engine);
  const { db } = bench;
  const log = createLogger('warn');
  const config = {
    ...loadConfig({ ...process.env, FPT_ALLOW_PRIVATE_URLS: '1' }),
    adminToken: OPERATOR,
    coalesce: { quietMs: 0, maxMs: 0 },
  };
  const app = buildApi({ db, config, operatorKey: operatorKeyFromToken(OPERATOR), logger: log });
  try {
    const { org, location } = await benchTenant(db);
    await createSubscription(db, {
      url: receiver.url,
      eventTypes: ['contact.created'],
      locationId: location.id,
      organizationId: org.id,
      description: 'bench',
      secret: generateSecret(),
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    await receiver.reset();

    const out: string[] = [];
    const t0 = performance.now();
    const code = await runImport({
      file,
      location: location.id,
      url,
      key: OPERATOR,
      deactivateMissing: false,
      progress: (line) => progress(`${engine}: ${line}`),
      out: (line) => out.push(line),
    });
    const importMs = performance.now() - t0;
    if (code !== 0) throw new Error(`import failed: ${out.join('\n')}`);
    progress(`${engine}: ${out[0]}`);

    const t1 = performance.now();
    const worker = new DeliveryWorker(db, config.delivery, log);
    await worker.start();
    const coalescer = await startCoalescer(db, log, worker);
    let last = 0;
    let delivered = 0;
    for (;;) {
      delivered = await receiver.count();
      if (delivered >= ROWS || performance.now() - t1 > DELIVER_TIMEOUT_MS) break;
      if (delivered - last >= ROWS / 5) progress(`${engine}: ${(last = delivered)} of ${ROWS} delivered`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const deliverMs = performance.now() - t1;
    await coalescer.stop();
    await worker.stop();
    return { engine, importMs, deliverMs, delivered };
  } finally {
    await app.close();
    await bench.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'fpt-import-bench-'));
const file = join(dir, 'contacts.csv');
writeCsv(file, ROWS);
const receiver = await ReceiverProcess.start();
try {
  console.log(
    `# import bench: ${machine()}; ${ROWS} CSV rows (${(statSync(file).size / 1e6).toFixed(1)} MB) through POST …/contacts/import, then their contact.created events delivered`,
  );
  console.log(
    '| engine | import (upload + check + write) | rows/s | delivery of contact.created | events/s |',
  );
  console.log('|---|---|---|---|---|');
  for (const engine of parseEngines(values.engine)) {
    const r = await run(engine, receiver, file);
    console.log(
      `| ${r.engine} | ${(r.importMs / 1000).toFixed(1)} s | ${rate(ROWS, r.importMs)} | ${r.delivered < ROWS ? `stopped: ${r.delivered} of ${ROWS} in ` : ''}${(r.deliverMs / 1000).toFixed(1)} s | ${rate(r.delivered, r.deliverMs)} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await receiver.stop();
}
