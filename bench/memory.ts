/**
 * Memory of a `serve` process as an operator meets it, on each engine, checked against targets:
 * idle after start, the peak while a bulk import of --contacts contacts is delivered to one
 * subscription, the peak during a steady --rate writes/s through the API, and after.
 *
 *   npx tsx bench/memory.ts [--engine pglite|postgres|both] [--contacts 20000] [--rate 200] [--minutes 10]
 *   npx tsx bench/memory.ts --engine postgres --burst-only [--env NAME=value …]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { call } from '../drills/lib/api.js';
import { count, positiveNumber, runDrill, sleep, type DrillContext } from '../drills/lib/drill.js';
import { Load } from '../drills/lib/load.js';
import { ROOT } from '../drills/lib/procs.js';
import { setupTenant, startStack, type Engine } from '../drills/lib/stack.js';
import { summarizeProfile, type ProfileNode } from './heap-profile.js';
import { heapGrowth, summarizeSnapshot, totalBytes } from './heap-snapshot.js';
import { machine, parseEngines } from './lib.js';
import {
  ArrivalCounter,
  describeContexts,
  describeSample,
  engineMemory,
  heapSnapshot,
  heapUsed,
  mb,
  probeSamples,
  RssSampler,
  type ProbeSample,
} from './memory-meters.js';

const usage = `usage: npx tsx bench/memory.ts [options]

Starts \`fpt-events serve\` (dist/cli.js, built first, as operators run it) on an empty store and
samples its resident set (RSS, /proc every 100 ms) and V8 heap (/metrics): idle after the start;
during a bulk import of --contacts contacts (three events each) delivered to one subscription;
during --minutes of steady load at --rate writes/s through the API (peak over the first minute,
RSS after the first minute and at the end); after the load. Heap snapshots after the first minute
and at the end are compared: what kind of object grew. Each figure is checked against its target.

  --engine <e>      pglite, postgres or both (default both)
  --contacts <n>    contacts in the burst (default 20000)
  --rate <n>        writes per second of the steady load (default 200)
  --minutes <n>     length of the steady load (default 10)
  --no-snapshots    skip the heap snapshots (each pauses the service for a few seconds, and the
                    first leaves it ~80 MB larger: the growth is then measured from after it)
  --source          run the TypeScript source through tsx (adds the loader's ~75 MB) instead of dist/
  --wasm-optimize   start serve with FPT_EMBEDDED_WASM_OPTIMIZE=1 (V8 optimizes PGlite's code), to
                    compare its memory and the write rate it reaches with the default
  --burst-only      idle and the burst only (no steady load): for comparing settings or commits
  --env NAME=value  one more environment variable for serve (repeatable): A/B runs of a setting
  --snapshot-at-heap <MB>
                    write one heap snapshot (into the run's folder) the first time serve's V8 heap
                    in use passes this many MB (to see what holds the burst's peak)
  --node-option <o> one more Node/V8 option for serve (repeatable), e.g. --max-semi-space-size=32
  --alloc-profile   sample what serve allocates during the burst, garbage included (V8's sampling
                    heap profiler), and name the allocating functions and our code above them

The growth over the steady load is checked twice: RSS at the end against RSS after the first
minute (its heap snapshot taken), and the median RSS of the last minute against that of the
second (one sample swings by tens of MB with the collector's cycle; a minute's median does not).

Every 100 ms serve's own process.memoryUsage() is also written to a file (bench/memory-probe.mjs,
loaded with --import): at the burst's RSS peak the bench says what it was made of (V8 heap in use
and reserved, external memory, array buffers) and the peak of each over the burst.

The steady load sends at most 32 requests at a time: a service slower than --rate is measured at
the rate it reached, which the results give (writes/s) beside the rate asked for. Every minute
shows RSS, the V8 heap, and on the embedded engine its WebAssembly memory and PostgreSQL's
memory contexts (from /metrics).`;

/** MB of RSS; `steadyGrowth` is the end's RSS over the first minute's. */
const TARGETS: Record<Engine, { idle: number; burstPeak: number; steadyGrowth: number }> = {
  pglite: { idle: 256, burstPeak: 512, steadyGrowth: 1.1 },
  postgres: { idle: 150, burstPeak: 300, steadyGrowth: 1.1 },
};

interface RunOptions {
  contacts: number;
  rate: number;
  minutes: number;
  snapshots: boolean;
  built: boolean;
  wasmOptimize: boolean;
  burstOnly: boolean;
  env: Record<string, string>;
  snapshotAtHeapMb: number | undefined;
  allocProfile: boolean;
  nodeOptions: string[];
}

async function run(ctx: DrillContext<unknown>, engine: Engine, o: RunOptions): Promise<void> {
  rmSync(join(ctx.dir, 'arrivals.jsonl'), { force: true });
  const probeFile = join(ctx.dir, `probe-${engine}.jsonl`);
  for (const f of [probeFile, `${probeFile}.start`, `${probeFile}.stop`]) rmSync(f, { force: true });
  const stack = await startStack(ctx, {
    engine,
    built: o.built,
    env: {
      LOG_LEVEL: 'warn',
      // windows that close as in production, not the drills' short ones
      FPT_COALESCE_QUIET_MS: '5000',
      FPT_COALESCE_MAX_MS: '10000',
      NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${ctx.dir} --import=${pathToFileURL(join(ROOT, 'bench', 'memory-probe.mjs')).href}${o.nodeOptions.map((x) => ` ${x}`).join('')}`,
      FPT_PROBE_FILE: probeFile,
      FPT_PROBE_SNAPSHOT_DIR: ctx.dir,
      ...(o.allocProfile ? { FPT_PROBE_ALLOC_PROFILE: join(ctx.dir, `burst-${engine}.heapprofile`) } : {}),
      ...(o.snapshotAtHeapMb !== undefined ? { FPT_PROBE_SNAPSHOT_HEAP_MB: String(o.snapshotAtHeapMb) } : {}),
      ...(o.wasmOptimize ? { FPT_EMBEDDED_WASM_OPTIMIZE: '1' } : {}),
      ...o.env,
    },
  });
  const target = TARGETS[engine];
  const base = stack.serve.url;
  const rss = new RssSampler(stack.serve.child!.pid!);
  const arrivals = new ArrivalCounter(join(ctx.dir, 'arrivals.jsonl'));
  const figure = (name: string, value: string) => ctx.figure(`${engine}: ${name}`, value);
  const check = (name: string, value: number, limit: number) => {
    if (value > limit) ctx.fail(`${engine}: ${name} ${value} MB, over the target of ${limit} MB`);
  };
  const heap = async () => mb(await heapUsed(base, stack.adminToken));
  /** the embedded engine's memory beside a figure, as a figure of its own */
  const engineFigure = async (when: string) => {
    if (engine !== 'pglite') return;
    const e = await engineMemory(base, stack.adminToken);
    figure(
      `${when}: WebAssembly memory, PostgreSQL`,
      `${e.wasm.toFixed(0)} MB, ${describeContexts(e.contexts)}`,
    );
  };
  try {
    const { tenant } = await setupTenant(ctx, stack);
    await sleep(5000);
    const idle = mb(rss.now());
    figure('idle after start: RSS / heap', `${idle} MB / ${await heap()} MB`);
    check('idle RSS', idle, target.idle);
    await engineFigure('idle after start');

    // the burst: one import, every event delivered
    rss.mark();
    const probeFrom = probeSamples(probeFile).length;
    writeFileSync(`${probeFile}.start`, '');
    const t0 = Date.now();
    const rows = Array.from({ length: o.contacts }, (_, i) => ({
      externalId: `x${i}`,
      firstName: `Burst${i}`,
      contactGroupId: 2,
    }));
    const imported = await call(
      base,
      tenant.key,
      'POST',
      `/api/locations/${tenant.locationId}/contacts/import`,
      { contacts: rows },
      600_000,
    );
    if (imported.status !== 200) throw new Error(`the import answered ${imported.status}`);
    const expected = o.contacts * 3;
    let burstHeap = 0;
    for (let last = 0; arrivals.count() < expected; await sleep(500)) {
      burstHeap = Math.max(burstHeap, await heap());
      if (Date.now() - last > 5000) {
        ctx.progress(`${engine}: burst ${arrivals.count()} of ${expected} events delivered`);
        last = Date.now();
      }
    }
    const burstPeak = mb(rss.peakSince());
    writeFileSync(`${probeFile}.stop`, '');
    if (o.allocProfile) {
      const file = join(ctx.dir, `burst-${engine}.heapprofile`);
      while (!existsSync(file)) await sleep(200);
      await sleep(500);
      const p = summarizeProfile((JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode }).head);
      const top = (m: Map<string, number>) =>
        [...m]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12)
          .map(([k, v]) => `${k} ${mb(v)} MB`)
          .join('; ');
      figure('burst: allocated (sampled, collected included)', `${mb(p.total)} MB`);
      figure('burst: allocated by our nearest frame', top(p.byOurs));
      figure('burst: allocated by function', top(p.bySelf));
    }
    figure(
      `burst of ${o.contacts} contacts (${expected} events, ${((Date.now() - t0) / 1000).toFixed(1)} s): peak RSS / heap`,
      `${burstPeak} MB / ${burstHeap} MB`,
    );
    check('burst peak RSS', burstPeak, target.burstPeak);
    const during = probeSamples(probeFile, probeFrom);
    if (during.length > 0) {
      const atPeak = during.reduce((a, b) => (b.rss > a.rss ? b : a));
      const most = (k: keyof ProbeSample) => mb(Math.max(...during.map((x) => x[k])));
      figure('burst: at the RSS peak (probe)', describeSample(atPeak));
      figure(
        'burst: peaks of each (probe)',
        `RSS ${most('rss')}, heap used ${most('heapUsed')}, heap total ${most('heapTotal')}, external ${most('external')}, array buffers ${most('arrayBuffers')} MB`,
      );
      const [first, last] = [during[0]!, during.at(-1)!];
      figure(
        'burst: garbage collections (probe)',
        `${last.minor - first.minor} scavenges, ${last.major - first.major} mark-compacts, ${last.gcMs - first.gcMs} ms in all`,
      );
      // the burst second by second, for the log
      for (let i = 0; i < during.length; i += 10)
        ctx.progress(`${engine}: burst +${(i / 10).toFixed(0)} s: ${describeSample(during[i]!)}`);
    }
    if (o.burstOnly) return;
    await sleep(5000);
    figure('after the burst: RSS / heap', `${mb(rss.now())} MB / ${await heap()} MB`);
    await engineFigure('after the burst');

    // the steady load
    rss.mark();
    const load = new Load(() => base, tenant, { rate: o.rate, contacts: 5000 });
    load.start();
    const minuteMs = 60_000;
    let firstMinute = 0;
    let firstMinuteHeap = 0;
    let snapshotAtMinute: string | undefined;
    const start = Date.now();
    /** the median RSS of each minute (MB) */
    const medians: number[] = [];
    rss.newWindow();
    for (let minute = 1; minute <= o.minutes; minute++) {
      await sleep(start + minute * minuteMs - Date.now());
      medians.push(mb(rss.newWindow()));
      const now = mb(rss.now());
      const h = await heap();
      const inside =
        engine === 'pglite'
          ? await engineMemory(base, stack.adminToken).then(
              (e) => `; WebAssembly memory ${e.wasm.toFixed(0)} MB, ${describeContexts(e.contexts)}`,
            )
          : '';
      ctx.progress(
        `${engine}: steady minute ${minute}: RSS ${now} MB (median of the minute ${medians.at(-1)} MB), heap ${h} MB${inside}; ${load.summary()}`,
      );
      if (minute === 1) {
        figure(`steady ${o.rate} writes/s, first minute: peak RSS`, `${mb(rss.peakSince())} MB`);
        [firstMinute, firstMinuteHeap] = [now, h];
        if (o.snapshots) {
          // writing a snapshot leaves the process ~80 MB larger for good (V8's and malloc's own
          // buffers): the growth is measured from after it, and the end's RSS before the second
          snapshotAtMinute = await heapSnapshot(ctx, stack.serve, 'after one minute');
          await sleep(5000);
          firstMinute = mb(rss.now());
          figure('RSS after the first minute, then after its heap snapshot', `${now} MB, ${firstMinute} MB`);
        }
      }
    }
    const end = mb(rss.now());
    const endHeap = await heap();
    const achieved = load.stats.sent / ((Date.now() - start) / 1000);
    figure(
      'steady load: write rate reached',
      `${achieved.toFixed(0)} writes/s of ${o.rate} asked${achieved < 0.9 * o.rate ? ' (NOT reached: the service was the limit)' : ''}`,
    );
    const snapshotAtEnd = o.snapshots ? await heapSnapshot(ctx, stack.serve, 'at the end') : undefined;
    await load.stop();
    figure(
      `steady ${o.rate} writes/s for ${o.minutes} min: RSS / heap after the first minute → at the end`,
      `${firstMinute} → ${end} MB (${((100 * end) / firstMinute - 100).toFixed(1)}%) / ${firstMinuteHeap} → ${endHeap} MB; peak RSS ${mb(rss.peakSince())} MB; ${load.summary()}`,
    );
    if (o.minutes > 1)
      check('RSS at the end of the steady run', end, Math.round(firstMinute * target.steadyGrowth));
    if (o.minutes > 2) {
      // the second minute: after the first one's warm-up (and its heap snapshot's one-off growth)
      const [second, last] = [medians[1]!, medians.at(-1)!];
      figure(
        'steady load: median RSS per minute',
        `${medians.join(', ')} MB; last minute over the second: ${((100 * last) / second - 100).toFixed(1)}%`,
      );
      check('median RSS of the last minute', last, Math.round(second * target.steadyGrowth));
    }
    if (snapshotAtMinute && snapshotAtEnd) {
      const [a, b] = [summarizeSnapshot(snapshotAtMinute), summarizeSnapshot(snapshotAtEnd)];
      figure(
        'heap snapshot after 1 min → at the end',
        `${mb(totalBytes(a))} → ${mb(totalBytes(b))} MB; grew most: ${heapGrowth(a, b, 8)
          .map((g) => `${g.kind} ${g.count >= 0 ? '+' : ''}${g.count} (${(g.bytes / 1024).toFixed(0)} kB)`)
          .join(', ')}`,
      );
      rmSync(snapshotAtMinute);
      rmSync(snapshotAtEnd);
    }

    const settled = Date.now();
    for (let n = -1; n !== arrivals.count() || Date.now() - settled < 15_000; await sleep(5000)) {
      n = arrivals.count();
    }
    figure('after the load (settled): RSS / heap', `${mb(rss.now())} MB / ${await heap()} MB`);
    await engineFigure('after the load');
  } finally {
    rss.stop();
    await stack.serve.stop();
    await stack.receiver.stop();
    rmSync(join(ctx.dir, 'pglite-data'), { recursive: true, force: true });
  }
}

await runDrill(
  {
    name: 'memory',
    usage,
    options: {
      engine: { type: 'string' },
      contacts: { type: 'string' },
      rate: { type: 'string' },
      minutes: { type: 'string' },
      'no-snapshots': { type: 'boolean' },
      source: { type: 'boolean' },
      'wasm-optimize': { type: 'boolean' },
      'burst-only': { type: 'boolean' },
      env: { type: 'string', multiple: true },
      'snapshot-at-heap': { type: 'string' },
      'alloc-profile': { type: 'boolean' },
      'node-option': { type: 'string', multiple: true },
    },
    timeLimitMs: (v) => (2 * Number(v.minutes ?? 10) + 20) * 60_000,
  },
  async (ctx) => {
    const engines = parseEngines(ctx.values.engine);
    const o: RunOptions = {
      contacts: count('contacts', ctx.values.contacts, 20_000),
      rate: positiveNumber('rate', ctx.values.rate, 200),
      minutes: count('minutes', ctx.values.minutes, 10),
      snapshots: ctx.values['no-snapshots'] !== true,
      built: ctx.values.source !== true,
      wasmOptimize: ctx.values['wasm-optimize'] === true,
      burstOnly: ctx.values['burst-only'] === true,
      env: Object.fromEntries(
        (ctx.values.env ?? []).map((kv) => {
          const at = kv.indexOf('=');
          if (at <= 0) throw new Error(`--env ${kv}: expected NAME=value`);
          return [kv.slice(0, at), kv.slice(at + 1)];
        }),
      ),
      allocProfile: ctx.values['alloc-profile'] === true,
      nodeOptions: ctx.values['node-option'] ?? [],
      snapshotAtHeapMb:
        ctx.values['snapshot-at-heap'] === undefined
          ? undefined
          : positiveNumber('snapshot-at-heap', ctx.values['snapshot-at-heap'], 0),
    };
    for (const [k, v] of Object.entries(o.env)) ctx.figure(`serve's environment: ${k}`, v);
    if (o.nodeOptions.length > 0) ctx.figure("serve's extra Node options", o.nodeOptions.join(' '));
    if (o.built) {
      ctx.progress('building dist/ (npm run build)');
      const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`npm run build failed: ${b.stderr}`);
    }
    ctx.figure('machine', machine());
    for (const engine of engines) await run(ctx, engine, o);
  },
);
