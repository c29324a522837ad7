/**
 * Drill: several processes sharing one PostgreSQL database. The same burst is run with one
 * `serve` process, then with one `serve` and two `worker`s: no window may be emitted twice, no
 * delivery lost, and the throughput of each is reported.
 *
 *   npx tsx drills/scale.ts --contacts 20000
 */
import { allEvents, ok, readArrivals } from './lib/api.js';
import { count, positiveNumber, runDrill, sleep, type DrillContext } from './lib/drill.js';
import { settleAndCheck, setupTenant, startStack } from './lib/stack.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const usage = `usage: npx tsx drills/scale.ts [options]

Imports --contacts contacts in one request (each with a contact group other than the default and
a name: three events each), then times until the receiver has every event, first with one serve
process, then with one serve and --workers worker processes on the same database (a fresh database
for each run). Each run ends with the checker and SQL checks (no window emitted twice, nothing
left open or unsent).

With --answer-ms the endpoint takes that long to answer each delivery, as a partner's endpoint
doing real work does: a process's sends are then bound by its caps on requests in flight, not by
the CPU, and more processes can send more at once.

  --contacts <n>    contacts in the burst (default 5000)
  --workers <n>     worker processes beside serve in the second run (default 2)
  --answer-ms <n>   how long the endpoint takes to answer (default 0: at once)
  --built           run dist/cli.js instead of the TypeScript source`;

interface RunOptions {
  contacts: number;
  workers: number;
  answerMs: number;
  built: boolean;
}

async function run(ctx: DrillContext<unknown>, o: RunOptions) {
  const { contacts, workers } = o;
  rmSync(join(ctx.dir, 'arrivals.jsonl'), { force: true });
  const stack = await startStack(ctx, { engine: 'postgres', workers, built: o.built, answerMs: o.answerMs });
  const { tenant, sub } = await setupTenant(ctx, stack);
  const rows = Array.from({ length: contacts }, (_, i) => ({
    externalId: `x${i}`,
    firstName: `Burst${i}`,
    contactGroupId: 2,
  }));
  const t0 = Date.now();
  const summary = (await ok(
    stack.serve.url,
    tenant.key,
    'POST',
    `/api/locations/${tenant.locationId}/contacts/import`,
    {
      contacts: rows,
    },
  )) as { created: number };
  const imported = Date.now() - t0;
  ctx.progress(`${1 + workers} process(es): imported ${summary.created} contacts in ${imported} ms`);
  const expected = contacts * 3;
  let last = 0;
  for (;;) {
    const n = new Set(readArrivals(ctx.dir).map((a) => a.eventId)).size;
    if (n >= expected) break;
    if (Date.now() - last > 5000) {
      ctx.progress(`${1 + workers} process(es): ${n} of ${expected} events delivered`);
      last = Date.now();
    }
    if (Date.now() - t0 > 600_000) throw new Error(`only ${n} of ${expected} events delivered in 10 minutes`);
    await sleep(100);
  }
  const ms = Date.now() - t0;
  const events = (await allEvents(stack.serve.url, tenant.key)).length;
  await settleAndCheck(
    ctx,
    stack,
    { tenant, subId: sub.id, subName: 'main', acked: { created: new Set(), maxN: new Map() } },
    60_000,
  );
  const label = workers ? `1 serve + ${workers} workers` : '1 serve';
  ctx.figure(
    `${label}: ${events} events from import to all delivered`,
    `${(ms / 1000).toFixed(1)} s = ${Math.round((events * 1000) / ms)} events/s`,
  );
  for (const p of [stack.serve, ...stack.workers]) await p.stop();
  await stack.receiver.stop();
  return (events * 1000) / ms;
}

await runDrill(
  {
    name: 'scale',
    usage,
    options: {
      contacts: { type: 'string' },
      workers: { type: 'string' },
      'answer-ms': { type: 'string' },
      built: { type: 'boolean' },
    },
    timeLimitMs: () => 1_500_000,
  },
  async (ctx) => {
    const contacts = positiveNumber('contacts', ctx.values.contacts, 5000);
    const workers = positiveNumber('workers', ctx.values.workers, 2);
    const answerMs = count('answer-ms', ctx.values['answer-ms'], 0);
    const built = ctx.values.built ?? false;
    ctx.figure('endpoint answers after', `${answerMs} ms`);
    const one = await run(ctx, { contacts, workers: 0, answerMs, built });
    const many = await run(ctx, { contacts, workers, answerMs, built });
    ctx.figure('speed-up', `${(many / one).toFixed(2)}× with ${1 + workers} processes (2 shared cores)`);
  },
);
