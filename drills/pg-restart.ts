/**
 * Drill: the PostgreSQL server restarted under load, in fast and in immediate (crash) mode, again
 * and again. The service must come back by itself (pool, LISTEN connection) and lose nothing.
 *
 *   npx tsx drills/pg-restart.ts --seconds 120
 */
import { count, percentile, positiveNumber, runDrill, sleep } from './lib/drill.js';
import { Load } from './lib/load.js';
import { PrivateCluster } from './lib/pg.js';
import { freePort } from './lib/procs.js';
import { settleAndCheck, setupTenant, startStack } from './lib/stack.js';

const usage = `usage: npx tsx drills/pg-restart.ts [options]

Starts a private PostgreSQL cluster (initdb in a temporary folder, its own port; the machine's
shared server is never touched), runs serve and --workers worker processes on it under steady
load, and restarts the cluster every ~--restart-every seconds, alternating pg_ctl's fast mode
(clients disconnected, clean shutdown) and immediate mode (no shutdown checkpoint: crash recovery
at start). Then the checker compares the receiver's arrivals with the store. Reports how long
after each restart the API answered writes again.

  --seconds <n>         how long the load and the restarts go on (default 60)
  --restart-every <s>   mean seconds between restarts, drawn from 0.5–1.5× (default 10)
  --workers <n>         worker processes beside serve (default 1)
  --rate <n>            API writes per second (default 30)
  --contacts <n>        contacts the load creates and keeps changing (default 150)
  --built               run dist/cli.js instead of the TypeScript source`;

await runDrill(
  {
    name: 'pg-restart',
    usage,
    options: {
      seconds: { type: 'string' },
      'restart-every': { type: 'string' },
      workers: { type: 'string' },
      rate: { type: 'string' },
      contacts: { type: 'string' },
      built: { type: 'boolean' },
    },
    timeLimitMs: (v) => (positiveNumber('seconds', v.seconds, 60) + 240) * 1000,
  },
  async (ctx) => {
    const v = ctx.values;
    const seconds = positiveNumber('seconds', v.seconds, 60);
    const every = positiveNumber('restart-every', v['restart-every'], 10);
    const cluster = await PrivateCluster.create(await freePort());
    ctx.cleanup(() => cluster.destroy());
    ctx.progress(`private PostgreSQL cluster on port ${cluster.port} (${cluster.dir})`);
    const stack = await startStack(ctx, {
      engine: 'postgres',
      serverUrl: cluster.url,
      workers: count('workers', v.workers, 1),
      built: v.built ?? false,
    });
    const { tenant, sub } = await setupTenant(ctx, stack);
    const load = new Load(() => stack.serve.url, tenant, {
      rate: positiveNumber('rate', v.rate, 30),
      contacts: positiveNumber('contacts', v.contacts, 150),
    });
    load.start();
    const recoveries: number[] = [];
    const end = Date.now() + seconds * 1000;
    let n = 0;
    while (Date.now() < end) {
      await sleep(Math.min(end - Date.now(), every * 1000 * (0.5 + Math.random())));
      if (Date.now() >= end) break;
      const mode = n++ % 2 === 0 ? 'fast' : 'immediate';
      const t0 = Date.now();
      cluster.restart(mode);
      const restarted = Date.now() - t0;
      // recovered: the load's writes are acknowledged again
      const acked = load.stats.acked;
      while (load.stats.acked === acked && Date.now() - t0 < 60_000) await sleep(20);
      const ms = Date.now() - t0;
      recoveries.push(ms);
      ctx.progress(
        `restart #${n} (${mode}): server back in ${restarted} ms, writes acknowledged again after ${ms} ms; load: ${load.summary()}`,
      );
      if (load.stats.acked === acked) ctx.fail(`no write acknowledged within 60 s of restart #${n}`);
    }
    await load.stop();
    ctx.progress(`load stopped: ${load.summary()}`);
    for (const p of [stack.serve, ...stack.workers]) {
      if (!p.running) ctx.fail(`${p.name} exited during the drill (see ${p.log})`);
    }
    ctx.figure('restarts', `${n} (alternating fast and immediate)`);
    recoveries.sort((a, b) => a - b);
    ctx.figure(
      'restart to first acknowledged write (ms) p50 / max',
      `${percentile(recoveries, 50)} / ${recoveries.at(-1)}`,
    );
    ctx.figure('load', load.summary());
    if (n === 0) ctx.fail('no restart happened: make --seconds longer than --restart-every');
    await settleAndCheck(ctx, stack, { tenant, subId: sub.id, subName: 'main', acked: load.acked }, 120_000);
  },
);
