/**
 * The front door (issue #15): single contact writes and reads through the HTTP API of real `serve`
 * processes, one subscription delivering every event to a local receiver (its own process),
 * windows closing at once (FPT_COALESCE_QUIET_MS=0), beside the database's own ceiling.
 *
 *   npx tsx bench/api.ts [--quick | --smoke] [--engine pglite|postgres|both] [--baseline /path/to/checkout]
 *
 * Per engine (and per checkout: `--baseline` runs the same phases against another checkout's code
 * first, in the same run, so that the two compare as a ratio on the same machine state):
 *  1. closed loop: autocannon, 64 connections (--connections), PATCH /api/contacts/{id} of distinct contacts (each
 *     changing its contact group), 30 s (--quick 10 s); then the time the deliveries take to catch up;
 *     on PostgreSQL, pg_stat_activity sampled every 100 ms, the service's CPU (its main thread and busiest
 *     other thread apart), and commits per PATCH;
 *  2. open loop: PATCHes sent at a held rate whatever the answers (latency from the moment each was
 *     due, so a stall counts in full), each contact written once, so that its one webhook dates
 *     write → webhook received;
 *  3. GET /api/contacts/{id}, closed loop, 64 connections;
 *  4. PostgreSQL: two `serve` processes on the database, 32 connections each, against one with 64;
 *     then the same with each process held to `--serve-cores` (a cgroup each, as a container's CPU
 *     limit), so that a second process adds CPU rather than dividing the machine's (bench/cpu-cap.ts);
 *  5. PostgreSQL: pgbench of the same single-row write transaction (with and without pg_notify).
 * PostgreSQL: FPT_BENCH_DATABASE_URL (default the local server); a new database per checkout, dropped.
 * Run under `flock /tmp/fpt-bench.lock` on a shared machine.
 */
import { execSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import {
  call,
  commits,
  freshStore,
  loadTenant,
  pgbench,
  pgbenchScript,
  ServeProcess,
  WaitSampler,
  type GroupFlips,
  type Store,
} from './api-stack.js';
import { CpuAccount } from './cpu.js';
import { closedPatch, drain, scaleOut } from './api-scale.js';
import { report, reportRounds, type Closed, type Open, type RunResult } from './api-report.js';
import { CpuCap } from './cpu-cap.js';
import { parseEngines, percentile, progress, ReceiverProcess, type BenchEngine } from './lib.js';
import { longestOp, maintenanceOps } from './serve-log.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    // a functional check of the script itself: every phase for a second or two, light load
    smoke: { type: 'boolean', default: false },
    engine: { type: 'string' },
    baseline: { type: 'string' },
    // the open loop's rates instead of the mode's (both engines), e.g. 250,500,750
    rates: { type: 'string' },
    // the CPU budget of each serve in the capped scale-out phase (cores)
    'serve-cores': { type: 'string', default: '0.3' },
    // a part of the run only (closed, open, get, scale, pgbench), e.g. scale
    phases: { type: 'string', default: 'closed,open,get,scale,pgbench' },
    // the closed loop's connections (the figure is 64): more of them show whether the
    // rate is held back by each write's latency or by the machine's CPU
    connections: { type: 'string', default: '64' },
    // with --baseline: this many rounds, in the order baseline, this, then this, baseline, …
    repeat: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`usage: npx tsx bench/api.ts [--quick | --smoke] [--engine pglite|postgres|both] [--baseline <checkout>] [--rates <r,r,…>]

Single contact writes and reads through the HTTP API of real serve processes, one subscription
delivering everything to a local receiver, beside pgbench's ceiling for the same transaction.
  --quick            10 s phases, two open-loop rates per engine (about 3 minutes in all)
  --smoke            every phase for a second or two: checks the script itself
  --engine <e>       pglite, postgres or both (default both)
  --baseline <dir>   run the same phases against another checkout first, in the same run (ratios)
  --rates <r,r,…>    the open loop's rates (PATCH/s) instead of the mode's, e.g. 250,500,750
  --phases <p,p,…>   only these phases: closed, open, get, scale (PostgreSQL), pgbench (default all)
  --connections <n>  the closed loop's connections (default 64, the issue's)
  --repeat <n>       with --baseline: n rounds, alternating which code goes first (baseline, this;
                     this, baseline; …), then each round's ratios and their median
  --serve-cores <n>  PostgreSQL's scale-out phase also holds each serve to n cores (a cgroup
                     of its own, as a container's CPU limit; default 0.3; needs root)
FPT_BENCH_SERVE_LOG=<file> keeps serve's debug log there; the open loop then names the longest
maintenance operation of each phase.
PostgreSQL: FPT_BENCH_DATABASE_URL (default the local server). Run under flock /tmp/fpt-bench.lock.`);
  process.exit(0);
}
const SMOKE = values.smoke;
const QUICK = values.quick || SMOKE;
const CLOSED_S = SMOKE ? 2 : QUICK ? 10 : 30;
const GET_S = SMOKE ? 1 : QUICK ? 5 : 10;
const OPEN_S = SMOKE ? 1 : QUICK ? 5 : 15;
const PGBENCH_S = SMOKE ? 1 : QUICK ? 5 : 10;
const CONNECTIONS = Number(values.connections);
if (!(Number.isInteger(CONNECTIONS) && CONNECTIONS >= 1))
  throw new Error(`--connections takes a whole number, not ${values.connections}`);
const MIN_CONTACTS = SMOKE ? 2000 : 20_000;
const PHASE_NAMES = ['closed', 'open', 'get', 'scale', 'pgbench'] as const;
const PHASES = new Set(values.phases.split(','));
for (const p of PHASES)
  if (!(PHASE_NAMES as readonly string[]).includes(p))
    throw new Error(`--phases takes ${PHASE_NAMES.join(', ')}, not ${p}`);
const SERVE_CORES = Number(values['serve-cores']);
if (!(SERVE_CORES > 0))
  throw new Error(`--serve-cores takes a number of cores, not ${values['serve-cores']}`);
const CAPS_UNAVAILABLE = CpuCap.unavailable();
const OWN_RATES = values.rates?.split(',').map(Number);
if (OWN_RATES?.some((r) => !(r > 0))) throw new Error(`--rates takes rates per second, not ${values.rates}`);
const RATES: Record<BenchEngine, number[]> = OWN_RATES
  ? { postgres: OWN_RATES, pglite: OWN_RATES }
  : SMOKE
    ? { postgres: [100], pglite: [100] }
    : QUICK
      ? { postgres: [300, 1000], pglite: [250, 500] }
      : { postgres: [100, 300, 600, 1000, 1500], pglite: [100, 250, 500, 750] };
/** the open loop's connections, all opened before each phase */
const OPEN_CONNECTIONS = 512;
const HERE = resolve(new URL('..', import.meta.url).pathname);
const checkouts: [string, string][] = [
  ...(values.baseline ? [['baseline', resolve(values.baseline)] as [string, string]] : []),
  ['this', HERE],
];

const REPEAT = Number(values.repeat);
if (!(Number.isInteger(REPEAT) && REPEAT >= 1))
  throw new Error(`--repeat takes a whole number, not ${values.repeat}`);
if (REPEAT > 1 && !values.baseline) throw new Error('--repeat compares with --baseline: give one');

const load = () => execSync('uptime').toString().split('load average:')[1]!.trim();

async function closedPhase(
  store: Store,
  serve: ServeProcess,
  receiver: ReceiverProcess,
  key: string,
  ids: number[],
  flips: GroupFlips,
): Promise<Closed> {
  await receiver.reset();
  const sampler = store.url ? await WaitSampler.start(store.url, store.dbName!) : undefined;
  const c0 = store.url ? await commits(store.url, store.dbName!) : 0;
  const cpu0 = serve.cpuSeconds();
  const account = CpuAccount.begin({ serve: [serve.pid], receiver: receiver.pid, dbName: store.dbName });
  const r = await closedPatch([serve], key, ids, flips, CONNECTIONS, CLOSED_S);
  const cpu = account.end();
  const cpuCores = (serve.cpuSeconds() - cpu0) / CLOSED_S;
  const end = Date.now();
  const delivered = await receiver.count();
  const waits = await sampler?.stop();
  const c1 = store.url ? await commits(store.url, store.dbName!) : 0;
  const drainS = await drain(receiver, end);
  return {
    ...r,
    deliveredRps: Math.round(delivered / CLOSED_S),
    drainS,
    cpuCores,
    cpu,
    ...(waits !== undefined ? { waits, commitsPerWrite: (c1 - c0) / (r.rps * CLOSED_S) } : {}),
  };
}

/**
 * Open loop: `rate` PATCHes a second for `seconds`, each due at its own moment and sent then
 * whatever the earlier ones are doing; one per contact of `ids`.
 */
async function openPhase(
  serve: ServeProcess,
  receiver: ReceiverProcess,
  key: string,
  ids: number[],
  flips: GroupFlips,
  rate: number,
  seconds: number,
): Promise<Open> {
  await receiver.reset();
  const pool = new Pool(serve.url, { connections: OPEN_CONNECTIONS });
  // every connection opened before the first PATCH is due: a connection opened during the phase
  // (undici opens one whenever every open one is busy) waits to be accepted, and Node's libuv
  // accepts one connection per turn of the event loop, so that after any stall the requests of
  // new connections waited in the listen queue for seconds behind turns of the service's work
  // (BENCHMARKS.md, "Maintenance in short steps"); a client's keep-alive pool is measured instead
  await Promise.all(
    Array.from({ length: OPEN_CONNECTIONS }, () =>
      pool.request({ path: '/healthz', method: 'GET' }).then((res) => res.body.dump()),
    ),
  );
  const total = Math.min(ids.length, rate * seconds);
  const dueAt = new Map<number, number>();
  const answers: number[] = [];
  let failed = 0;
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now();
  const epoch0 = Date.now();
  for (let i = 0; i < total; i++) {
    const due = (i * 1000) / rate;
    const wait = t0 + due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const id = ids[i]!;
    dueAt.set(id, epoch0 + due);
    inFlight.push(
      pool
        .request({
          path: `/api/contacts/${id}`,
          method: 'PATCH',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: flips.body(id),
        })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode !== 200) failed++;
          else answers.push(performance.now() - t0 - due);
        })
        .catch(() => {
          failed++;
        }),
    );
  }
  await Promise.all(inFlight);
  await pool.close();
  const answeredAt = Date.now();
  const ok = total - failed;
  // this phase's webhooks, told by contact (a late one of an earlier phase may still arrive)
  const arrivals = async () => {
    const first = new Map<number, number>();
    for (const [, at, contactId] of await receiver.receipts()) {
      if (contactId !== null && dueAt.has(contactId) && !first.has(contactId)) first.set(contactId, at);
    }
    return first;
  };
  const deadline = Date.now() + 60_000;
  let first = await arrivals();
  while (first.size < ok && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    first = await arrivals();
  }
  const fromWrite = [...first].map(([id, at]) => at - dueAt.get(id)!);
  answers.sort((a, b) => a - b);
  fromWrite.sort((a, b) => a - b);
  const q = (xs: number[], p: number) => (xs.length ? Math.round(percentile(xs, p)) : NaN);
  return {
    rate,
    sent: total,
    failed,
    answer: { p50: q(answers, 0.5), p99: q(answers, 0.99) },
    webhook: { p50: q(fromWrite, 0.5), p99: q(fromWrite, 0.99), missing: ok - fromWrite.length },
    maintenance: longestOp(maintenanceOps(serve.pid, epoch0, answeredAt)),
  };
}

async function getPhase(serves: ServeProcess[], key: string, ids: number[]): Promise<number> {
  let next = 0;
  const results = await Promise.all(
    serves.map((s) =>
      autocannon({
        url: s.url,
        connections: 64 / serves.length,
        duration: GET_S,
        headers: { authorization: `Bearer ${key}` },
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => ({ ...req, path: `/api/contacts/${ids[next++ % ids.length]}` }),
          },
        ],
      }),
    ),
  );
  return Math.round(results.reduce((a, r) => a + r.requests.average, 0));
}

async function runSet(engine: BenchEngine, code: string, root: string, receiver: ReceiverProcess) {
  const store = await freshStore(engine);
  const serves: ServeProcess[] = [];
  try {
    const openContacts = RATES[engine].reduce((a, r) => a + r * OPEN_S, 0);
    const contacts = Math.max(MIN_CONTACTS, openContacts);
    progress(`${engine} / ${code}: starting serve, importing ${contacts} contacts`);
    serves.push(await ServeProcess.start(root, store));
    const { key, ids, flips } = await loadTenant(serves[0]!.url, contacts, receiver.url);
    // one real write first: the receiver answers, the subscription is warm
    await call(serves[0]!.url, key, 'PATCH', `/api/contacts/${ids[0]}`, { firstName: 'Warm' });
    await drain(receiver, Date.now());

    let closed: Closed | undefined;
    if (PHASES.has('closed')) {
      progress(`${engine} / ${code}: closed loop, ${CONNECTIONS} connections, ${CLOSED_S} s`);
      closed = await closedPhase(store, serves[0]!, receiver, key, ids, flips);
    }
    const open: Open[] = [];
    let offset = 0;
    for (const rate of PHASES.has('open') ? RATES[engine] : []) {
      progress(`${engine} / ${code}: open loop at ${rate}/s for ${OPEN_S} s`);
      open.push(await openPhase(serves[0]!, receiver, key, ids.slice(offset), flips, rate, OPEN_S));
      offset += rate * OPEN_S;
      await drain(receiver, Date.now());
    }
    let get: number | undefined;
    if (PHASES.has('get')) {
      progress(`${engine} / ${code}: GET, 64 connections, ${GET_S} s`);
      get = await getPhase(serves, key, ids);
    }
    const result: RunResult = { engine, code, load: load(), closed, open, get };
    if (engine === 'postgres' && PHASES.has('scale')) {
      Object.assign(
        result,
        await scaleOut(
          { root, store, serves, receiver, key, ids, flips },
          CLOSED_S / 2,
          CAPS_UNAVAILABLE ? undefined : SERVE_CORES,
          (m) => progress(`${engine} / ${code}: ${m}`),
        ),
      );
    }
    for (const s of serves.splice(0)) await s.stop();
    if (engine === 'postgres' && PHASES.has('pgbench')) {
      progress(`${engine} / ${code}: pgbench, 64 clients, ${PGBENCH_S} s each`);
      result.pgbench = {
        write: pgbench(store, pgbenchScript(false), ids, 64, PGBENCH_S),
        writeNotify: pgbench(store, pgbenchScript(true), ids, 64, PGBENCH_S),
      };
    }
    return result;
  } finally {
    for (const s of serves) await s.stop();
    await store.drop();
  }
}

const receiver = await ReceiverProcess.start();
const results: RunResult[] = [];
try {
  for (const engine of parseEngines(values.engine))
    for (let round = 1; round <= REPEAT; round++) {
      // the machine drifts: each code goes first in every other round (baseline, this, this, baseline)
      const order = round % 2 === 1 ? checkouts : [...checkouts].reverse();
      for (const [code, root] of order) {
        const label = REPEAT > 1 ? `${code} (${round})` : code;
        results.push({ ...(await runSet(engine, label, root, receiver)), round });
      }
    }
} finally {
  await receiver.stop();
}
report(results, QUICK ? (SMOKE ? '--smoke' : '--quick') : 'full', CAPS_UNAVAILABLE, CONNECTIONS);
if (REPEAT > 1) reportRounds(results);
