/**
 * Drill: the partner endpoint goes down (killed: connections refused) for a while under steady
 * load, then comes back on the same port; the backlog must drain, nothing lost, order kept.
 *
 *   npx tsx drills/receiver-down.ts --down-seconds 300
 */
import { allEvents, readArrivals } from './lib/api.js';
import { positiveNumber, runDrill, sleep } from './lib/drill.js';
import { Load } from './lib/load.js';
import { parseEngine, settleAndCheck, setupTenant, startStack } from './lib/stack.js';

const usage = `usage: npx tsx drills/receiver-down.ts [options]

Steady load; the receiver is killed (its port refuses connections) for --down-seconds, then started
again on the same port. Deliveries retry on a short schedule (1s, 2s, 5s, then 10s repeated to cover
the outage), so the backlog drains within about ten seconds of the endpoint's return. Then the
checker compares the receiver's arrivals with the store.

  --engine <e>         postgres or pglite (default postgres)
  --down-seconds <n>   how long the endpoint stays down (default 180)
  --rate <n>           API writes per second (default 20)
  --contacts <n>       contacts the load creates and keeps changing (default 100)
  --built              run dist/cli.js instead of the TypeScript source`;

await runDrill(
  {
    name: 'receiver-down',
    usage,
    options: {
      engine: { type: 'string' },
      'down-seconds': { type: 'string' },
      rate: { type: 'string' },
      contacts: { type: 'string' },
      built: { type: 'boolean' },
    },
    timeLimitMs: (v) => (positiveNumber('down-seconds', v['down-seconds'], 180) + 200) * 1000,
  },
  async (ctx) => {
    const v = ctx.values;
    const down = positiveNumber('down-seconds', v['down-seconds'], 180);
    // enough 10 s retries to outlast the outage one and a half times over
    const schedule = ['1s', '2s', '5s', ...Array<string>(Math.ceil((down * 1.5) / 10) + 2).fill('10s')];
    const stack = await startStack(ctx, {
      engine: parseEngine(v.engine),
      retrySchedule: schedule.join(','),
      built: v.built ?? false,
    });
    const { tenant, sub } = await setupTenant(ctx, stack);
    const load = new Load(() => stack.serve.url, tenant, {
      rate: positiveNumber('rate', v.rate, 20),
      contacts: positiveNumber('contacts', v.contacts, 100),
    });
    load.start();
    await sleep(5000);
    await stack.receiver.kill();
    const downAt = Date.now();
    ctx.progress(`receiver down (kill -9) for ${down} s; load goes on`);
    while (Date.now() - downAt < down * 1000) {
      await sleep(Math.min(10_000, down * 1000 - (Date.now() - downAt)));
      ctx.progress(`receiver down ${Math.round((Date.now() - downAt) / 1000)} s; load: ${load.summary()}`);
    }
    const delivered = new Set(readArrivals(ctx.dir).map((a) => a.eventId));
    const held = new Set(
      (await allEvents(stack.serve.url, tenant.key))
        .filter((e) => !delivered.has(e.eventId))
        .map((e) => e.eventId),
    );
    const backlog = held.size;
    await stack.receiver.start();
    const upAt = Date.now();
    ctx.progress(`receiver back on port ${stack.receiver.port}; backlog ${backlog} events`);
    await sleep(5000);
    await load.stop();
    ctx.progress(`load stopped: ${load.summary()}`);
    await settleAndCheck(ctx, stack, { tenant, subId: sub.id, subName: 'main', acked: load.acked }, 120_000);
    // the drain: from the endpoint's return to the last first arrival of an event held back by it
    const firsts = new Map<string, number>();
    for (const a of readArrivals(ctx.dir)) if (!firsts.has(a.eventId)) firsts.set(a.eventId, a.at);
    const lastBacklogArrival = Math.max(
      ...[...firsts].filter(([id]) => held.has(id)).map(([, at]) => at),
      upAt,
    );
    ctx.figure('outage', `${down} s (receiver killed, port refusing)`);
    ctx.figure(
      'retry schedule',
      `${schedule.slice(0, 4).join(',')},… (${schedule.length} delays, ±20% jitter)`,
    );
    ctx.figure('backlog when the receiver came back', `${backlog} events`);
    ctx.figure(
      'drained (all held-back events delivered) after',
      `${((lastBacklogArrival - upAt) / 1000).toFixed(1)} s`,
    );
    ctx.figure('load', load.summary());
    if (backlog === 0) ctx.fail('no backlog built up while the receiver was down: the drill tested nothing');
  },
);
