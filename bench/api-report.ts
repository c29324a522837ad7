/** The API bench's results (bench/api.ts) and their tables. */
import type { ScaleOut } from './api-scale.js';
import type { CpuAccount } from './cpu.js';
import { machine, type BenchEngine } from './lib.js';

export interface Closed {
  rps: number;
  p99: number;
  errors: number;
  /** events delivered per second during the load */
  deliveredRps: number;
  /** seconds from the end of the load until the receiver had every event */
  drainS: number;
  cpuCores: number;
  /** cores used by each part of the machine during the load */
  cpu: ReturnType<CpuAccount['end']>;
  waits?: string;
  commitsPerWrite?: number;
}

export interface Open {
  rate: number;
  sent: number;
  failed: number;
  answer: { p50: number; p99: number };
  webhook: { p50: number; p99: number; missing: number };
  /** the longest maintenance operation during the phase (FPT_BENCH_SERVE_LOG only) */
  maintenance: string;
}

export interface RunResult {
  engine: BenchEngine;
  code: string;
  load: string;
  closed?: Closed;
  open: Open[];
  get?: number;
  two?: { one: number; two: number };
  /** one and two serves each held to `cores` (undefined: cgroups unavailable here) */
  capped?: ScaleOut['capped'];
  pgbench?: { write: number; writeNotify: number };
  /** the round of a repeated comparison (`--repeat`) */
  round?: number;
}

/** CPU milliseconds per PATCH of the service, PostgreSQL, the receiver and the load generator. */
function cpuMsPerPatch(c: Closed): number {
  return (1000 * (c.cpu.serve + c.cpu.postgres + c.cpu.receiver + c.cpu.load)) / c.rps;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * A repeated comparison (`--repeat`): this code's figures over the baseline's, round by round
 * (each round's two runs back to back), and their median, per engine.
 */
export function reportRounds(results: RunResult[]): void {
  console.log(
    '\n## This code over the baseline, round by round (ratios; above 1 is more, for p99 and CPU worse)\n',
  );
  const measures: [string, (r: RunResult) => number | undefined][] = [
    ['closed loop PATCH/s', (r) => r.closed?.rps],
    ['CPU ms per PATCH', (r) => (r.closed ? cpuMsPerPatch(r.closed) : undefined)],
    ['closed loop p99', (r) => r.closed?.p99],
    ['GET/s', (r) => r.get],
    ...[...new Set(results.flatMap((r) => r.open.map((o) => o.rate)))].map(
      (rate) =>
        [`open ${rate}/s answer p99`, (r: RunResult) => r.open.find((o) => o.rate === rate)?.answer.p99] as [
          string,
          (r: RunResult) => number | undefined,
        ],
    ),
  ];
  const rounds = [...new Set(results.map((r) => r.round ?? 1))];
  console.log(`| engine | measure | ${rounds.map((n) => `round ${n}`).join(' | ')} | median |`);
  console.log(`|---|---|${rounds.map(() => '---|').join('')}---|`);
  for (const engine of [...new Set(results.map((r) => r.engine))])
    for (const [name, of] of measures) {
      const ratios = rounds.map((n) => {
        const pair = results.filter((r) => r.engine === engine && (r.round ?? 1) === n);
        const base = pair.find((r) => r.code.startsWith('baseline'));
        const ours = pair.find((r) => r.code.startsWith('this'));
        const [b, t] = [base && of(base), ours && of(ours)];
        return b && t ? t / b : undefined;
      });
      if (ratios.every((x) => x === undefined)) continue;
      const known = ratios.filter((x): x is number => x !== undefined);
      console.log(
        `| ${engine} | ${name} | ${ratios.map((x) => (x === undefined ? '–' : x.toFixed(2))).join(' | ')} | ${median(known).toFixed(2)} |`,
      );
    }
}

export function report(
  results: RunResult[],
  mode: string,
  capsUnavailable: string | undefined,
  connections: number,
): void {
  console.log(`\n# API bench (${mode}): ${machine()}`);
  console.log(
    `\n## Closed loop: PATCH of distinct contacts, ${connections} connections, one subscription delivering everything\n`,
  );
  console.log(
    '| engine | code | load avg | PATCH/s | p99 ms | errors | delivered/s during | caught up after | service CPU (cores) | commits per PATCH | pg_stat_activity (mean sessions) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const c = r.closed;
    if (!c) continue;
    console.log(
      `| ${r.engine} | ${r.code} | ${r.load} | ${c.rps} | ${c.p99} | ${c.errors} | ${c.deliveredRps} | ${c.drainS.toFixed(1)} s | ${c.cpuCores.toFixed(2)} | ${c.commitsPerWrite?.toFixed(2) ?? '–'} | ${c.waits ?? '–'} |`,
    );
  }
  console.log('\n## Where the CPU went during the closed loop: cores used, and CPU milliseconds per PATCH\n');
  console.log(
    '| engine | code | service | its main thread | its busiest other thread | PostgreSQL | receiver | load generator | other | all | CPU ms per PATCH (service, PostgreSQL, receiver, load generator) | PATCH/s if the 2 cores were all theirs |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    if (!r.closed) continue;
    const c = r.closed.cpu;
    const all = c.serve + c.postgres + c.receiver + c.load + c.other;
    const msPer = cpuMsPerPatch(r.closed);
    console.log(
      `| ${r.engine} | ${r.code} | ${c.serve.toFixed(2)} | ${c.serveMain.toFixed(2)} | ${c.serveBusiestOther.toFixed(2)} | ${c.postgres.toFixed(2)} | ${c.receiver.toFixed(2)} | ${c.load.toFixed(2)} | ${c.other.toFixed(2)} | ${all.toFixed(2)} | ${msPer.toFixed(2)} | ${Math.round(2000 / msPer)} |`,
    );
  }
  console.log('\n## Open loop: PATCH at a held rate, each contact once (ms)\n');
  console.log(
    '| engine | code | offered/s | sent | failed | answer p50 / p99 | write → webhook p50 / p99 | webhooks missing | longest maintenance operation (of all during the phase) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results)
    for (const o of r.open)
      console.log(
        `| ${r.engine} | ${r.code} | ${o.rate} | ${o.sent} | ${o.failed} | ${o.answer.p50} / ${o.answer.p99} | ${o.webhook.p50} / ${o.webhook.p99} | ${o.webhook.missing} | ${o.maintenance} |`,
      );
  console.log('\n## GET, two processes, and the database ceiling\n');
  console.log(
    '| engine | code | GET /api/contacts/{id} per s | PATCH/s one serve (64 conns) | two serves (32 each) | ratio | pgbench write tx/s | with pg_notify |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results)
    console.log(
      `| ${r.engine} | ${r.code} | ${r.get ?? '–'} | ${r.two?.one ?? '–'} | ${r.two?.two ?? '–'} | ${r.two ? (r.two.two / r.two.one).toFixed(2) : '–'} | ${r.pgbench?.write ?? '–'} | ${r.pgbench?.writeNotify ?? '–'} |`,
    );
  const capped = results.filter((r) => r.capped);
  if (capped.length === 0) {
    if (results.some((r) => r.engine === 'postgres'))
      console.log(`\nThe scale-out phase with a CPU budget per serve did not run: ${capsUnavailable}.`);
    return;
  }
  console.log(
    '\n## Scale-out with each serve held to a CPU budget (a cgroup each, as a container limit), PostgreSQL not capped\n',
  );
  console.log(
    '| code | cores per serve | serves | connections in all | PATCH/s | p99 ms | against one serve, same connections | serves used (cores) | cap held them back (share of periods) | PostgreSQL (cores) | receiver, load, other (cores) | commits per PATCH |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of capped) {
    const c = r.capped!;
    for (const x of c.rows) {
      const one = c.rows.find((o) => o.serves === 1 && o.connections === x.connections);
      const ratio = x.serves > 1 && one ? (x.rps / one.rps).toFixed(2) : '–';
      console.log(
        `| ${r.code} | ${c.cores} | ${x.serves} | ${x.connections} | ${x.rps} | ${x.p99} | ${ratio} | ${x.serve.toFixed(2)} | ${(x.throttled * 100).toFixed(0)}% | ${x.postgres.toFixed(2)} | ${x.rest.toFixed(2)} | ${x.commitsPerPatch.toFixed(2)} |`,
      );
    }
  }
}
