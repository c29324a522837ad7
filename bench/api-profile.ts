/**
 * Where a `serve` process spends its CPU under the front door's load (issue #15): one serve on a
 * fresh store, profiled with V8's sampling profiler (`--cpu-prof`) through a closed-loop phase of
 * `GET /api/contacts/{id}` and then one of PATCHes, each in a process of its own, one subscription
 * delivering everything to a local receiver. Prints, per phase, the rate and the self time by
 * package (or our own module) and the heaviest functions.
 *
 *   npx tsx bench/api-profile.ts [--engine postgres|pglite] [--seconds 10] [--connections 64] [--phase GET|PATCH|both]
 *
 * The figures are shares of one process's samples: they say where the time goes, not how fast it
 * is (bench/api.ts says that). `--keep` leaves the `.cpuprofile` files for Chrome DevTools. Run under `flock /tmp/fpt-bench.lock` on a shared machine.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { call, freshStore, loadTenant, ServeProcess, type GroupFlips } from './api-stack.js';
import { progress, ReceiverProcess, type BenchEngine } from './lib.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'postgres' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    phase: { type: 'string', default: 'both' },
    keep: { type: 'boolean', default: false },
    from: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`usage: npx tsx bench/api-profile.ts [--engine postgres|pglite] [--seconds 10] [--connections 64] [--phase GET|PATCH|both]

CPU profile of one serve process under closed-loop GET and PATCH load (self time by package and
by function, per phase), and the time spent under each of our own modules (the nearest one up the
stack: a socket write made by the delivery sender counts for the sender). --keep leaves the
.cpuprofile files (for Chrome DevTools) and prints where; --from DIR summarizes a kept one again. Run under flock /tmp/fpt-bench.lock.`);
  process.exit(0);
}
const engine = values.engine as BenchEngine;
if (engine !== 'postgres' && engine !== 'pglite') throw new Error('--engine is postgres or pglite');
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const ROOT = resolve(new URL('..', import.meta.url).pathname);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package's name, our own module's path, or Node's / V8's own. */
function owner(url: string): string {
  if (url === '') return '(V8, GC, idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return 'node';
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url;
}

function summarize(dir: string): string {
  // the main thread's profile (a loader thread of tsx writes one of its own, numbered after it)
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()[0];
  if (!file) throw new Error(`no profile written in ${dir}`);
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byNode = new Map<number, number>();
  p.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...byNode.values()].reduce((a, b) => a + b, 0);
  // the nearest of our own modules up each sample's stack (async continuations start their stack at
  // the function resumed, so a write after an await is still under its caller)
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const underOwn = new Map<string, number>();
  for (const [id, t] of byNode) {
    let n = byId.get(id);
    // ours if any, else the nearest package (fastify's request handling, undici's responses), else
    // Node's or V8's own (GC, sockets flushed from the event loop)
    let area: string | undefined;
    let pkg: string | undefined;
    while (n && area === undefined) {
      const o = owner(n.callFrame.url);
      if (o.startsWith('src/')) area = o;
      else if (pkg === undefined && o !== 'node' && o !== '(V8, GC, idle)') pkg = `(no module of ours) ${o}`;
      n = parent.get(n.id);
    }
    area ??= pkg ?? '(no module of ours) Node, V8, GC';
    if (byId.get(id)?.callFrame.functionName !== '(idle)') underOwn.set(area, (underOwn.get(area) ?? 0) + t);
  }
  const byOwner = new Map<string, number>();
  const byFn = new Map<string, number>();
  let idle = 0;
  for (const n of p.nodes) {
    const t = byNode.get(n.id) ?? 0;
    if (n.callFrame.functionName === '(idle)') idle += t;
    const o = owner(n.callFrame.url);
    byOwner.set(o, (byOwner.get(o) ?? 0) + t);
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${o}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, t]) => `  ${pct(t)}  ${name}`)
      .join('\n');
  return [
    `samples over ${(total / 1e6).toFixed(1)} s, idle ${pct(idle)}`,
    'self time by owner:',
    top(byOwner, 18),
    'heaviest functions (self time):',
    top(byFn, 25),
    'time under our own modules (nearest up the stack, idle left out):',
    top(underOwn, 20),
  ].join('\n');
}

async function phase(
  name: 'GET' | 'PATCH',
  store: Awaited<ReturnType<typeof freshStore>>,
  key: string,
  ids: number[],
  flips: GroupFlips,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fpt-api-profile-'));
  const serve = await ServeProcess.start(ROOT, store, {}, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  let next = 0;
  const cpu0 = serve.cpuSeconds();
  const r = await autocannon({
    url: serve.url,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    requests: [
      name === 'GET'
        ? {
            method: 'GET',
            setupRequest: (req) => ({ ...req, path: `/api/contacts/${ids[next++ % ids.length]}` }),
          }
        : {
            method: 'PATCH',
            setupRequest: (req) => {
              const id = ids[next++ % ids.length]!;
              return { ...req, path: `/api/contacts/${id}`, body: flips.body(id) };
            },
          },
    ],
  });
  const cores = (serve.cpuSeconds() - cpu0) / SECONDS;
  await serve.stop();
  console.log(
    `\n== ${engine} ${name}: ${Math.round(r.requests.average)}/s, p99 ${r.latency.p99} ms, ` +
      `errors ${r.errors + r.non2xx}, serve used ${cores.toFixed(2)} cores`,
  );
  console.log(summarize(dir));
  if (values.keep) console.log(`profile kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

if (values.from !== undefined) {
  console.log(summarize(values.from));
  process.exit(0);
}
const receiver = await ReceiverProcess.start();
const store = await freshStore(engine);
try {
  progress(`${engine}: importing contacts`);
  const setup = await ServeProcess.start(ROOT, store);
  const { key, ids, flips } = await loadTenant(setup.url, 20_000, receiver.url);
  await call(setup.url, key, 'PATCH', `/api/contacts/${ids[0]}`, { firstName: 'Warm' });
  await setup.stop();
  const phases = (['GET', 'PATCH'] as const).filter((p) => values.phase === 'both' || values.phase === p);
  if (phases.length === 0) throw new Error('--phase is GET, PATCH or both');
  for (const name of phases) {
    progress(`${engine}: ${name}, ${CONNECTIONS} connections, ${SECONDS} s, profiled`);
    await phase(name, store, key, ids, flips);
  }
} finally {
  await store.drop();
  await receiver.stop();
}
