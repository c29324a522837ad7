/**
 * Drill: one organization floods the delivery worker with a backlog to endpoints that never answer,
 * beside another organization's healthy subscription under steady load: the healthy one's latency
 * must stay as it was without the flood.
 *
 *   npx tsx drills/isolation.ts --seconds 60
 */
import { createTenant, ok, subscribe } from './lib/api.js';
import { count, positiveNumber, runDrill, sleep } from './lib/drill.js';
import { comparePhases, p99Within, PHASE_OPTIONS } from './lib/phases.js';
import { Load } from './lib/load.js';
import { parseEngine, settleAndCheck, setupTenant, startStack } from './lib/stack.js';

const usage = `usage: npx tsx drills/isolation.ts [options]

Two phases of steady load on organization Y's one healthy subscription, --seconds each. At the
start of the second, organization X gets eight subscriptions to an endpoint that accepts the
connection and never answers (the delivery timeout, 20 s, ends each attempt; retries follow) and a
backlog: --backlog contacts imported at once, one delivery each per subscription. Concurrency
settings are the defaults. Y's latency, from an event's timestamp (its window's last change) to its
first arrival, is compared between the phases. PASS needs every one of Y's events delivered and
Y's p99 in the second phase within 1.5× the first phase's p99 plus 250 ms; with --starvation-only
(the CI version, on a loaded machine) it needs instead that none of Y's deliveries waited as long
as one of X's timeouts (which is what a Y delivery queued behind X's requests would wait).

  --engine <e>        postgres or pglite (default postgres)
  --seconds <n>       length of each phase (default 60)
  --rate <n>          Y's API writes per second (default 30)
  --contacts <n>      contacts Y's load creates and keeps changing (default 150)
  --backlog <n>       contacts X imports (default 300: 2,400 deliveries)
  --starvation-only   check that Y is never starved rather than the p99 bound
  --built             run dist/cli.js instead of the TypeScript source`;

const TIMEOUT_MS = 20_000;
const X_SUBSCRIPTIONS = 8;

await runDrill(
  {
    name: 'isolation',
    usage,
    options: { ...PHASE_OPTIONS, backlog: { type: 'string' }, 'starvation-only': { type: 'boolean' } },
    timeLimitMs: (v) => (2 * positiveNumber('seconds', v.seconds, 60) + 200) * 1000,
  },
  async (ctx) => {
    const v = ctx.values;
    const seconds = positiveNumber('seconds', v.seconds, 60);
    const backlog = count('backlog', v.backlog, 300);
    const stack = await startStack(ctx, {
      engine: parseEngine(v.engine),
      timeoutMs: TIMEOUT_MS,
      built: v.built ?? false,
    });
    const { tenant: y, sub } = await setupTenant(ctx, stack);
    const x = await createTenant(stack.serve.url, stack.adminToken);
    const load = new Load(() => stack.serve.url, y, {
      rate: positiveNumber('rate', v.rate, 30),
      contacts: positiveNumber('contacts', v.contacts, 150),
    });
    load.start();
    const phaseA = Date.now();
    ctx.progress(`phase 1: organization Y alone, ${seconds} s`);
    await sleep(seconds * 1000);

    const phaseB = Date.now();
    for (let i = 0; i < X_SUBSCRIPTIONS; i++)
      await subscribe(stack.serve.url, x, stack.receiver.url('hang', `x${i}`), `x${i}`, ctx.dir);
    const contacts = Array.from({ length: backlog }, (_, i) => ({ firstName: `Flood${i}` }));
    await ok(stack.serve.url, x.key, 'POST', `/api/locations/${x.locationId}/contacts/import`, { contacts });
    ctx.progress(
      `phase 2: organization X's ${X_SUBSCRIPTIONS} subscriptions to an endpoint that never answers (timeout ${TIMEOUT_MS} ms), ` +
        `backlog ${backlog * X_SUBSCRIPTIONS} deliveries, ${seconds} s`,
    );
    await sleep(seconds * 1000);
    await load.stop();
    const end = Date.now();
    ctx.progress(`load stopped: ${load.summary()}`);
    await settleAndCheck(
      ctx,
      stack,
      { tenant: y, subId: sub.id, subName: 'main', acked: load.acked },
      60_000,
    );

    const phases = comparePhases(ctx, {
      sub: 'main',
      phaseA,
      phaseB,
      end,
      labels: [
        "Y's latency alone",
        "Y's latency during X's flood",
        "requests X's endpoint held until the timeout",
      ],
    });
    ctx.figure('load', load.summary());
    if (v['starvation-only']) {
      const worst = phases.beside.at(-1) ?? 0;
      if (worst >= TIMEOUT_MS)
        ctx.fail(`one of Y's deliveries took ${worst} ms during X's flood: it waited behind X's timeouts`);
    } else {
      const p99 = p99Within(phases);
      if (!p99.ok) ctx.fail(`Y's p99 went from ${p99.alone} ms to ${p99.beside} ms during X's flood`);
    }
  },
);
