/**
 * This project beside the usual alternatives, in one run, against one receiver (its own process):
 * the raw HTTP ceiling (a plain undici loop), this project, the same delivery job on pg-boss (same
 * PostgreSQL server) and on BullMQ (local Redis). Prints a Markdown table with the ratios and
 * writes the plot (SVG). See BENCHMARKS.md, "Comparison with the alternatives".
 *
 *   npx tsx bench/compare.ts [--events 30000] [--rate 1000] [--seconds 5] [--engine postgres]
 *                            [--plot docs/img/compare.svg] [--tune]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  bullMqLatency,
  bullMqThroughput,
  describeBullMq,
  type BullMqSettings,
} from './alternatives/bullmq.js';
import { signedCeiling } from './alternatives/job.js';
import {
  describePgBoss,
  pgBossLatency,
  pgBossThroughput,
  type PgBossSettings,
} from './alternatives/pgboss.js';
import { EVENTS_PER_CONTACT, fptFromQueue, fptFromWrites, fptLatency } from './fpt.js';
import {
  machine,
  MachineWork,
  parseEngines,
  progress,
  rate,
  rawCeiling,
  ReceiverProcess,
  summarize,
  type LatencyRun,
  type Phase,
  type ThroughputRun,
} from './lib.js';
import { comparisonSvg, type PlotRow } from './plot.js';

const USAGE = `Usage: npx tsx bench/compare.ts [options]

Delivers the same events through this project, pg-boss and BullMQ to one local receiver, beside the
raw HTTP ceiling and the signed sender in a loop with no queue, and reports delivered events/s,
p50/p99 latency, the whole machine's CPU instructions per event (where perf can count them) and
the ratios.

Options:
  --events <n>     backlog size of each throughput run, in events (default 30000)
  --rate <n>       offered events/s in the latency runs (default 1000)
  --seconds <n>    length of each latency run (default 5)
  --engine <e>     this project's engine: postgres, pglite or both (default postgres, the server
                   pg-boss uses too)
  --plot <file>    where to write the SVG plot (default docs/img/compare.svg; "" for none)
  --tune           first try several concurrency settings for pg-boss and BullMQ (throughput runs
                   of --events), print each, and use the fastest of each for the comparison
  -h, --help       this text

Environment: FPT_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
FPT_BENCH_REDIS_URL (default redis://127.0.0.1:6379).`;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '30000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    engine: { type: 'string', default: 'postgres' },
    plot: { type: 'string', default: 'docs/img/compare.svg' },
    tune: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name} must be a positive whole number, not "${raw}"\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
const EVENTS = Math.ceil(positive('events', values.events) / EVENTS_PER_CONTACT) * EVENTS_PER_CONTACT;
const RATE = positive('rate', values.rate);
const SECONDS = positive('seconds', values.seconds);
const ENGINES = parseEngines(values.engine);

/**
 * The settings used without --tune: the fastest of the candidates below on this machine (see
 * BENCHMARKS.md for every figure tried).
 */
let pgBoss: PgBossSettings = { workers: 4, batchSize: 500, pollingIntervalSeconds: 0.5 };
let bullMq: BullMqSettings = { workers: 1, concurrency: 256 };

const PGBOSS_CANDIDATES: PgBossSettings[] = [
  { workers: 1, batchSize: 100, pollingIntervalSeconds: 0.5 },
  { workers: 4, batchSize: 100, pollingIntervalSeconds: 0.5 },
  { workers: 8, batchSize: 100, pollingIntervalSeconds: 0.5 },
  { workers: 16, batchSize: 100, pollingIntervalSeconds: 0.5 },
  { workers: 4, batchSize: 500, pollingIntervalSeconds: 0.5 },
  { workers: 8, batchSize: 250, pollingIntervalSeconds: 0.5 },
  { workers: 16, batchSize: 250, pollingIntervalSeconds: 0.5 },
  { workers: 16, batchSize: 500, pollingIntervalSeconds: 0.5 },
  { workers: 32, batchSize: 250, pollingIntervalSeconds: 0.5 },
];
const BULLMQ_CANDIDATES: BullMqSettings[] = [
  { workers: 1, concurrency: 16 },
  { workers: 1, concurrency: 64 },
  { workers: 1, concurrency: 128 },
  { workers: 1, concurrency: 256 },
  { workers: 1, concurrency: 512 },
  { workers: 2, concurrency: 256 },
  { workers: 4, concurrency: 64 },
];

interface Row {
  label: string;
  /** what the backlog run starts from, and so what its figure includes */
  from: string;
  throughput?: ThroughputRun;
  latency?: LatencyRun;
  /** the latency is from the contact write rather than from queueing */
  latencyFromWrite?: boolean;
  reference?: boolean;
}

const perSec = (t: ThroughputRun) => rate(t.events, t.deliverMs);

async function tune<S>(
  label: string,
  candidates: readonly S[],
  describe: (s: S) => string,
  run: (s: S) => Promise<ThroughputRun>,
): Promise<S> {
  let best: { s: S; r: number } | undefined;
  for (const s of candidates) {
    const r = perSec(await run(s));
    console.log(`tune ${label}: ${describe(s)}: ${r} events/s`);
    if (best === undefined || r > best.r) best = { s, r };
  }
  console.log(`tune ${label}: fastest ${describe(best!.s)}`);
  return best!.s;
}

const receiver = await ReceiverProcess.start();
const rows: Row[] = [];
const machineWork = MachineWork.create();
if (!machineWork) progress('perf cannot count instructions here: the instructions column stays empty');

/** Runs a throughput run with the machine's CPU work counted over its timed part, where possible. */
async function counted(run: (phase?: Phase) => Promise<ThroughputRun>): Promise<ThroughputRun> {
  const t = await run(machineWork);
  if (machineWork?.last) t.work = machineWork.last;
  return t;
}
const started = performance.now();
try {
  if (values.tune) {
    pgBoss = await tune('pg-boss', PGBOSS_CANDIDATES, describePgBoss, (s) =>
      pgBossThroughput(receiver, EVENTS, s),
    );
    bullMq = await tune('BullMQ', BULLMQ_CANDIDATES, describeBullMq, (s) =>
      bullMqThroughput(receiver, EVENTS, s),
    );
  }

  progress('raw HTTP ceiling');
  const ceilingN = Math.max(EVENTS, 50_000);
  const raw = await counted(async (phase) => {
    const t0 = performance.now();
    await rawCeiling(receiver.port, ceilingN, phase);
    return { events: ceilingN, writeMs: 0, deliverMs: performance.now() - t0 };
  });
  rows.push({
    label: 'raw HTTP ceiling (undici loop)',
    from: 'nothing: POSTs in a loop, unsigned',
    throughput: raw,
    reference: true,
  });
  progress('signed sender, no queue');
  rows.push({
    label: 'signed sender, no queue (the shared sender in a loop)',
    from: 'nothing: the jobs signed and POSTed in a loop, 64 in flight',
    throughput: await counted((phase) => signedCeiling(receiver, EVENTS, phase)),
    reference: true,
  });

  for (const engine of ENGINES) {
    const name = `fpt-events (${engine === 'postgres' ? 'PostgreSQL' : 'PGlite'})`;
    const fromWrites = await counted((phase) =>
      fptFromWrites(engine, receiver, EVENTS / EVENTS_PER_CONTACT, phase),
    );
    const fromQueue = await counted((phase) =>
      fptFromQueue(engine, receiver, EVENTS / EVENTS_PER_CONTACT, phase),
    );
    progress(`${name}: latency at ${RATE} events/s for ${SECONDS} s`);
    const latency = await fptLatency(engine, receiver, RATE, SECONDS);
    rows.push(
      {
        label: `${name}, from queued deliveries`,
        from: 'events and deliveries stored',
        throughput: fromQueue,
        latency,
      },
      {
        label: `${name}, from contact writes`,
        from: 'contacts written, windows due',
        throughput: fromWrites,
        latency: latency.fromWrite && { ...latency, fromQueued: latency.fromWrite },
        latencyFromWrite: true,
      },
    );
  }

  const pgT = await counted((phase) => pgBossThroughput(receiver, EVENTS, pgBoss, phase));
  progress(`pg-boss: latency at ${RATE} events/s for ${SECONDS} s`);
  const pgL = await pgBossLatency(receiver, RATE, SECONDS, pgBoss);
  rows.push({
    label: 'pg-boss 10',
    from: `jobs inserted (${describePgBoss(pgBoss)})`,
    throughput: pgT,
    latency: pgL,
  });

  const bqT = await counted((phase) => bullMqThroughput(receiver, EVENTS, bullMq, phase));
  progress(`BullMQ: latency at ${RATE} events/s for ${SECONDS} s`);
  const bqL = await bullMqLatency(receiver, RATE, SECONDS, bullMq);
  rows.push({
    label: 'BullMQ 6',
    from: `jobs added (${describeBullMq(bullMq)})`,
    throughput: bqT,
    latency: bqL,
  });

  report(rows, perSec(rows[0]!.throughput!), pgT, bqT);
} finally {
  await receiver.stop();
}

function report(all: readonly Row[], ceiling: number, pgT: ThroughputRun, bqT: ThroughputRun): void {
  console.log(
    `\n# compare: ${machine()}; backlog ${EVENTS} events; latency at ${RATE} events/s for ${SECONDS} s; ` +
      `run took ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  );
  console.log(
    '| system | backlog run starts from | made ready in | delivered events/s | share of ceiling | machine instructions per event | latency p50 | p99 | max |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of all) {
    const t = r.throughput!;
    const lat = r.latency && summarize(r.latency.fromQueued);
    const from = r.latencyFromWrite ? ' (from write)' : '';
    console.log(
      `| ${r.label} | ${r.from} | ${r.reference ? '–' : `${(t.writeMs / 1000).toFixed(1)} s`} | ${perSec(t)} | ` +
        `${((100 * perSec(t)) / ceiling).toFixed(0)}% | ` +
        `${t.work ? `${(t.work.instructions / t.events / 1e6).toFixed(2)} M` : '–'} | ` +
        (lat ? `${lat.p50} ms${from} | ${lat.p99} ms | ${lat.max} ms |` : '– | – | – |'),
    );
  }
  console.log('\nRatios (delivered events/s):');
  const signed = perSec(all.find((x) => x.label.startsWith('signed sender'))!.throughput!);
  for (const r of all.filter((x) => !x.reference)) {
    const v = perSec(r.throughput!);
    console.log(
      `- ${r.label}: ${(v / perSec(pgT)).toFixed(2)}× pg-boss, ${(v / perSec(bqT)).toFixed(2)}× BullMQ, ` +
        `${((100 * v) / ceiling).toFixed(0)}% of the ceiling, ${((100 * v) / signed).toFixed(0)}% of the signed sender`,
    );
  }
  console.log(
    `- at most, a system posting through the signed sender: ${(signed / perSec(pgT)).toFixed(2)}× pg-boss, ` +
      `${(signed / perSec(bqT)).toFixed(2)}× BullMQ`,
  );
  const perEvent = (t: ThroughputRun) => (t.work ? t.work.instructions / t.events : undefined);
  if (perEvent(pgT) !== undefined && perEvent(bqT) !== undefined) {
    console.log(
      '\nMachine instructions per delivered event (less is better; independent of the host speed):',
    );
    for (const r of all.filter((x) => !x.reference && x.throughput!.work)) {
      const v = perEvent(r.throughput!)!;
      console.log(
        `- ${r.label}: ${(v / 1e6).toFixed(2)} M, ${(perEvent(pgT)! / v).toFixed(2)}× as efficient as pg-boss, ` +
          `${(perEvent(bqT)! / v).toFixed(2)}× as efficient as BullMQ`,
      );
    }
  }
  if (values.plot !== '') {
    const plotRows: PlotRow[] = all.map((r) => {
      const lat = r.latency && summarize(r.latency.fromQueued);
      return {
        label: r.label + (r.latencyFromWrite ? ' ¹' : ''),
        throughput: perSec(r.throughput!),
        p50: lat?.p50,
        p99: lat?.p99,
        reference: r.reference ?? false,
      };
    });
    mkdirSync(dirname(values.plot), { recursive: true });
    writeFileSync(
      values.plot,
      comparisonSvg(
        plotRows,
        `Webhook delivery: fpt-events beside pg-boss and BullMQ (${machine()}, ${new Date().toISOString().slice(0, 10)})`,
        `backlog of ${EVENTS} events; latency at ${RATE} events/s for ${SECONDS} s, from enqueue (¹ from the contact write) to receipt`,
      ),
    );
    progress(`plot written to ${values.plot}`);
  }
}
