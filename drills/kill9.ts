/**
 * Drill: kill -9 of the service at random moments under steady load, again and again, each time
 * started again; then every event must have reached the receiver, in order per contact.
 *
 *   npx tsx drills/kill9.ts --engine postgres --seconds 60
 */
import { arrivalLatencies, firstArrivals, readArrivals } from './lib/api.js';
import { count, runDrill, percentile, positiveNumber, sleep } from './lib/drill.js';
import { Load } from './lib/load.js';
import { parseEngine, settleAndCheck, setupTenant, startStack } from './lib/stack.js';

const usage = `usage: npx tsx drills/kill9.ts [options]

Steady load through the API while the serve process (and, on PostgreSQL, one of the worker
processes beside it) is killed with SIGKILL at random moments and started again. Then the checker
compares the receiver's arrivals with the store.

  --engine <e>       postgres (an own database on the shared server) or pglite (an embedded data
                     folder, killed mid-write) (default postgres)
  --seconds <n>      how long the load and the kills go on (default 60)
  --workers <n>      worker processes beside serve, killed too (PostgreSQL only; default 2)
  --kill-every <s>   mean seconds between kills, each interval drawn from 0.5–1.5× (default 5)
  --rate <n>         API writes per second (default 40)
  --contacts <n>     contacts the load creates and keeps changing (default 150)
  --built            run dist/cli.js instead of the TypeScript source`;

await runDrill(
  {
    name: 'kill9',
    usage,
    options: {
      engine: { type: 'string' },
      seconds: { type: 'string' },
      workers: { type: 'string' },
      'kill-every': { type: 'string' },
      rate: { type: 'string' },
      contacts: { type: 'string' },
      built: { type: 'boolean' },
    },
    timeLimitMs: (v) => (positiveNumber('seconds', v.seconds, 60) + 800) * 1000,
  },
  async (ctx) => {
    const v = ctx.values;
    const engine = parseEngine(v.engine);
    const seconds = positiveNumber('seconds', v.seconds, 60);
    const workers = engine === 'pglite' ? 0 : count('workers', v.workers, 2);
    const killEvery = positiveNumber('kill-every', v['kill-every'], 5);
    const stack = await startStack(ctx, { engine, workers, built: v.built ?? false });
    const { tenant, sub } = await setupTenant(ctx, stack);
    const load = new Load(() => stack.serve.url, tenant, {
      rate: positiveNumber('rate', v.rate, 40),
      contacts: positiveNumber('contacts', v.contacts, 150),
    });
    load.start();
    ctx.progress(
      `load started; killing one of ${1 + workers} processes every ~${killEvery} s for ${seconds} s`,
    );

    const victims = [stack.serve, ...stack.workers];
    const restartMs: number[] = [];
    const kills = new Map<string, number>();
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(end - Date.now(), killEvery * 1000 * (0.5 + Math.random())));
      if (Date.now() >= end) break;
      // the first kill is always the serve process (the API and the background work); then any
      const victim =
        restartMs.length === 0
          ? stack.serve
          : (victims[Math.floor(Math.random() * victims.length)] ?? stack.serve);
      await victim.kill9();
      kills.set(victim.role, (kills.get(victim.role) ?? 0) + 1);
      const ms = await victim.start();
      restartMs.push(ms);
      ctx.progress(
        `killed ${victim.name} (kill #${restartMs.length}); ready again in ${ms} ms; load: ${load.summary()}`,
      );
    }
    await load.stop();
    ctx.progress(`load stopped: ${load.summary()}`);
    ctx.figure('engine', engine);
    ctx.figure('kills', [...kills].map(([role, n]) => `${n} × ${role}`).join(', ') || 'none');
    restartMs.sort((a, b) => a - b);
    ctx.figure(
      'restart to ready (ms) p50 / max',
      `${percentile(restartMs, 50)} / ${restartMs.at(-1) ?? NaN}`,
    );
    ctx.figure('load', load.summary());
    if (restartMs.length === 0) ctx.fail('no process was killed: make --seconds longer than --kill-every');
    // A killed worker's deliveries wait until it is declared dead (FPT_WORKER_DEAD_AFTER_MS, 30 s by
    // default) on PostgreSQL; their leases, (timeout + 60 s) × the link's position in its chain,
    // only bound the wait should that fail. Settling allows the second, with some slack.
    await settleAndCheck(ctx, stack, { tenant, subId: sub.id, subName: 'main', acked: load.acked }, 700_000);
    // how long the kills held events back: from an event's timestamp to its first arrival
    const waits = arrivalLatencies(firstArrivals(readArrivals(ctx.dir), 'main'));
    ctx.figure(
      'event to first arrival (ms) p50 / p99 / max',
      `${percentile(waits, 50)} / ${percentile(waits, 99)} / ${waits.at(-1) ?? NaN}`,
    );
  },
);
