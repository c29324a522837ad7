/**
 * The API bench's load of PATCHes (bench/api.ts): a closed loop against one or more `serve`
 * processes, the wait for the deliveries to catch up, and the scale-out phase with each process
 * held to a CPU budget (bench/cpu-cap.ts).
 */
import autocannon from 'autocannon';
import { commits, ServeProcess, type GroupFlips, type Store } from './api-stack.js';
import { CpuAccount } from './cpu.js';
import { CpuCap } from './cpu-cap.js';
import type { ReceiverProcess } from './lib.js';

/** Closed loop with autocannon: PATCHes of contacts taken in turn, against every given process. */
export async function closedPatch(
  serves: ServeProcess[],
  key: string,
  ids: number[],
  flips: GroupFlips,
  connections: number,
  seconds: number,
): Promise<{ rps: number; p99: number; errors: number }> {
  let next = 0;
  const results = await Promise.all(
    serves.map((s) =>
      autocannon({
        url: s.url,
        connections,
        duration: seconds,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        requests: [
          {
            method: 'PATCH',
            setupRequest: (req) => {
              const id = ids[next++ % ids.length]!;
              return { ...req, path: `/api/contacts/${id}`, body: flips.body(id) };
            },
          },
        ],
      }),
    ),
  );
  return {
    rps: Math.round(results.reduce((a, r) => a + r.requests.average, 0)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((a, r) => a + r.errors + r.non2xx + r.timeouts, 0),
  };
}

/** Waits until the receiver has heard nothing new for 2 s; seconds until its last arrival. */
export async function drain(receiver: ReceiverProcess, from: number): Promise<number> {
  let last = await receiver.count();
  let lastAt = Date.now();
  while (Date.now() - lastAt < 2000) {
    await new Promise((r) => setTimeout(r, 100));
    const c = await receiver.count();
    if (c !== last) [last, lastAt] = [c, Date.now()];
  }
  return Math.max(0, (lastAt - from) / 1000);
}

export interface Scaled {
  rps: number;
  p99: number;
  /** cores used: the serves together, PostgreSQL, the rest */
  serve: number;
  postgres: number;
  rest: number;
  /** the share of the serves' scheduling periods in which their cap held them back */
  throttled: number;
  /** the database's commits (the serves' transactions, background ones included) per PATCH */
  commitsPerPatch: number;
}

/** A closed loop of PATCH on `serves`, each in its own CPU cap, with the CPU it took. */
async function cappedPatch(
  store: Store,
  serves: ServeProcess[],
  caps: CpuCap[],
  receiver: ReceiverProcess,
  key: string,
  ids: number[],
  flips: GroupFlips,
  connectionsEach: number,
  seconds: number,
): Promise<Scaled> {
  const t0 = caps.map((c) => c.throttled());
  const c0 = await commits(store.url!, store.dbName!);
  const account = CpuAccount.begin({
    serve: serves.map((s) => s.pid),
    receiver: receiver.pid,
    dbName: store.dbName,
  });
  const r = await closedPatch(serves, key, ids, flips, connectionsEach, seconds);
  const cpu = account.end();
  const t1 = caps.map((c) => c.throttled());
  const c1 = await commits(store.url!, store.dbName!);
  const periods = t1.reduce((a, t, i) => a + t.periods - t0[i]!.periods, 0);
  const throttled = t1.reduce((a, t, i) => a + t.throttledPeriods - t0[i]!.throttledPeriods, 0);
  await drain(receiver, Date.now());
  return {
    rps: r.rps,
    p99: r.p99,
    serve: cpu.serve,
    postgres: cpu.postgres,
    rest: cpu.receiver + cpu.load + cpu.other,
    throttled: periods > 0 ? throttled / periods : 0,
    commitsPerPatch: (c1 - c0) / (r.rps * seconds),
  };
}

export interface ScaleOut {
  /** PATCH/s of one serve with 64 connections, and of two with 32 each */
  two: { one: number; two: number };
  /** the same with each serve held to `cores` (undefined when no cap was asked) */
  capped?: { cores: number; rows: (Scaled & { serves: number; connections: number })[] };
}

/**
 * One `serve` process against two on the same database, closed loops of `seconds`; then, if
 * `cores` is given, the same with each serve held to that much CPU. `stack.serves` holds the one
 * running serve, and every serve started here is stopped before the end.
 */
export async function scaleOut(
  stack: {
    root: string;
    store: Store;
    serves: ServeProcess[];
    receiver: ReceiverProcess;
    key: string;
    ids: number[];
    flips: GroupFlips;
  },
  seconds: number,
  cores: number | undefined,
  progress: (message: string) => void,
): Promise<ScaleOut> {
  const { root, store, serves, receiver, key, ids, flips } = stack;
  progress(`one serve process (64 connections) against two (32 each), ${seconds} s each`);
  const one = await closedPatch(serves, key, ids, flips, 64, seconds);
  await drain(receiver, Date.now());
  serves.push(await ServeProcess.start(root, store));
  const two = await closedPatch(serves, key, ids, flips, 32, seconds);
  await drain(receiver, Date.now());
  const result: ScaleOut = { two: { one: one.rps, two: two.rps } };
  if (cores === undefined) return result;
  progress(
    `each serve held to ${cores} cores: one, then two, with 64 and 128 connections in all, ${seconds} s each`,
  );
  // one serve alone (a second one's background work would take a share of the writes' work under
  // its own cap), then a second one with a cap of its own
  await serves.pop()!.stop();
  const caps = [CpuCap.create('serve0', cores)];
  try {
    caps[0]!.add(serves[0]!.pid);
    const oneCapped = await cappedPatch(store, serves, caps, receiver, key, ids, flips, 64, seconds);
    const oneCapped128 = await cappedPatch(store, serves, caps, receiver, key, ids, flips, 128, seconds);
    serves.push(await ServeProcess.start(root, store));
    caps.push(CpuCap.create('serve1', cores));
    caps[1]!.add(serves[1]!.pid);
    // the new process's code warmed up (V8 optimizes what runs often) before it is measured
    await closedPatch(serves.slice(1), key, ids, flips, 16, 3);
    await drain(receiver, Date.now());
    const twoCapped = await cappedPatch(store, serves, caps, receiver, key, ids, flips, 32, seconds);
    const twoCapped128 = await cappedPatch(store, serves, caps, receiver, key, ids, flips, 64, seconds);
    result.capped = {
      cores,
      rows: [
        { serves: 1, connections: 64, ...oneCapped },
        { serves: 1, connections: 128, ...oneCapped128 },
        { serves: 2, connections: 64, ...twoCapped },
        { serves: 2, connections: 128, ...twoCapped128 },
      ],
    };
  } finally {
    for (const s of serves.splice(0)) await s.stop();
    for (const c of caps) c.remove();
  }
  return result;
}
