/**
 * The setup most drills share: a store (an own database on the shared PostgreSQL server, a given
 * one, or an embedded data folder), the service processes, the receiver, a tenant and a
 * subscription; and the settle-and-check step that ends a drill.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  allContacts,
  allEvents,
  createTenant,
  deliveriesIn,
  readArrivals,
  subscribe,
  type Tenant,
} from './api.js';
import { check, describe, type Acked, type CheckResult } from './check.js';
import { sleep, type DrillContext } from './drill.js';
import { createDatabase, sql } from './pg.js';
import { freePort, ReceiverProc, ServiceProc } from './procs.js';

export type Engine = 'postgres' | 'pglite';

export function parseEngine(raw: string | undefined): Engine {
  if (raw === undefined || raw === 'postgres' || raw === 'pglite') return raw ?? 'postgres';
  throw new Error(`--engine must be postgres or pglite, got "${raw}"`);
}

export interface StackOptions {
  engine: Engine;
  /** an existing server to create the drill's database on (default: the shared one) */
  serverUrl?: string;
  /** extra `worker` processes beside the `serve` (PostgreSQL only) */
  workers?: number;
  quietMs?: number;
  maxMs?: number;
  retrySchedule?: string;
  timeoutMs?: number;
  /** how long the partner endpoint takes to answer (default: at once) */
  answerMs?: number;
  built?: boolean;
  env?: Record<string, string>;
}

export interface Stack {
  serve: ServiceProc;
  workers: ServiceProc[];
  receiver: ReceiverProc;
  adminToken: string;
  /** the drill's own database (PostgreSQL engine) */
  dbUrl: string | undefined;
  quietMs: number;
  maxMs: number;
}

export async function startStack(ctx: DrillContext<unknown>, o: StackOptions): Promise<Stack> {
  const adminToken = `drill-admin-${randomBytes(12).toString('hex')}`;
  const quietMs = o.quietMs ?? 200;
  const maxMs = o.maxMs ?? 1000;
  let dbUrl: string | undefined;
  if (o.engine === 'postgres') {
    const db = await createDatabase(o.serverUrl);
    dbUrl = db.url;
    if (ctx.keep) ctx.progress(`database kept: ${db.url}`);
    else ctx.cleanup(() => db.drop());
  }
  const env: Record<string, string> = {
    FPT_ADMIN_TOKEN: adminToken,
    FPT_ALLOW_PRIVATE_URLS: '1',
    FPT_COALESCE_QUIET_MS: String(quietMs),
    FPT_COALESCE_MAX_MS: String(maxMs),
    FPT_RETRY_SCHEDULE: o.retrySchedule ?? '1s,2s,5s,10s,10s,10s,10s,10s,10s,10s',
    FPT_DELIVERY_TIMEOUT_MS: String(o.timeoutMs ?? 5000),
    LOG_LEVEL: 'info',
    ...(dbUrl !== undefined ? { DATABASE_URL: dbUrl } : { FPT_DATA_DIR: join(ctx.dir, 'pglite-data') }),
    ...o.env,
  };
  const receiver = new ReceiverProc(ctx.dir, o.answerMs);
  await receiver.start();
  ctx.cleanup(() => receiver.stop());

  const serve = new ServiceProc('serve', 'serve', env, ctx.dir, await freePort(), o.built);
  ctx.cleanup(() => serve.stop());
  const startMs = await serve.start();
  ctx.progress(`serve ready in ${startMs} ms (${o.engine})`);
  const workers: ServiceProc[] = [];
  for (let i = 1; i <= (o.workers ?? 0); i++) {
    const w = new ServiceProc(`worker${i}`, 'worker', env, ctx.dir, 0, o.built);
    ctx.cleanup(() => w.stop());
    await w.start();
    workers.push(w);
  }
  if (workers.length) ctx.progress(`${workers.length} worker processes ready`);
  return { serve, workers, receiver, adminToken, dbUrl, quietMs, maxMs };
}

export async function setupTenant(ctx: DrillContext<unknown>, s: Stack, subName = 'main') {
  const tenant = await createTenant(s.serve.url, s.adminToken);
  const sub = await subscribe(s.serve.url, tenant, s.receiver.url('ok', subName), subName, ctx.dir);
  return { tenant, sub };
}

/**
 * Waits until every stored event has reached the receiver and nothing is left to send (the event
 * count unchanged for longer than a window can stay open), then runs the checker and reports.
 */
export async function settleAndCheck(
  ctx: DrillContext<unknown>,
  s: Stack,
  t: { tenant: Tenant; subId: string; subName: string; acked: Acked },
  deadlineMs: number,
): Promise<CheckResult> {
  const base = s.serve.url;
  const t0 = Date.now();
  const stableFor = s.maxMs + 1500;
  let lastCount = -1;
  let stableSince = Date.now();
  let lastReport = 0;
  for (;;) {
    const events = await allEvents(base, t.tenant.key);
    const arrived = new Set(
      readArrivals(ctx.dir)
        .filter((a) => a.sub === t.subName && !a.hang)
        .map((a) => a.eventId),
    );
    const missing = events.filter((e) => !arrived.has(e.eventId)).length;
    const unfinished =
      (await deliveriesIn(base, t.tenant.key, t.subId, 'pending')) +
      (await deliveriesIn(base, t.tenant.key, t.subId, 'sending'));
    if (events.length !== lastCount) {
      lastCount = events.length;
      stableSince = Date.now();
    }
    if (missing === 0 && unfinished === 0 && Date.now() - stableSince >= stableFor) break;
    if (Date.now() - lastReport > 5000) {
      ctx.progress(
        `settling: ${events.length} events, ${missing} not yet delivered, ${unfinished} deliveries unfinished`,
      );
      lastReport = Date.now();
    }
    if (Date.now() - t0 > deadlineMs) {
      ctx.fail(`not settled within ${Math.round(deadlineMs / 1000)} s: ${missing} events undelivered`);
      break;
    }
    await sleep(250);
  }
  ctx.figure('settle time after load stopped', `${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const result = check({
    events: await allEvents(base, t.tenant.key),
    arrivals: readArrivals(ctx.dir),
    sub: t.subName,
    contacts: await allContacts(base, t.tenant.key, t.tenant.locationId),
    acked: t.acked,
  });
  for (const line of describe(result)) ctx.progress(`check: ${line}`);
  ctx.figure(
    'events / delivered / duplicates',
    `${result.events} / ${result.delivered} / ${result.duplicates}`,
  );
  const failed500 = failedRequests(ctx.dir);
  if (failed500.length > 0)
    ctx.figure('requests answered 500, by error (service logs)', failed500.join(', '));
  if (!result.ok) ctx.fail(describe(result).slice(1).join('; '));
  if (result.events === 0) ctx.fail('no event was emitted: the drill checked nothing');
  const failed = await deliveriesIn(base, t.tenant.key, t.subId, 'failed');
  if (failed > 0) ctx.fail(`${failed} deliveries failed for good`);
  if (s.dbUrl !== undefined) await sqlChecks(ctx, s.dbUrl);
  return result;
}

/**
 * The errors behind the service's 500 answers, from its processes' logs (`request failed`), by
 * message, so that a drill that saw one says why.
 */
function failedRequests(dir: string): string[] {
  const byMessage = new Map<string, number>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!line.includes('"request failed"')) continue;
      try {
        const entry = JSON.parse(line) as {
          msg?: string;
          err?: { type?: string; message?: string; code?: string };
        };
        if (entry.msg !== 'request failed') continue;
        const why = `${entry.err?.type ?? 'Error'}${entry.err?.code ? ` ${entry.err.code}` : ''}: ${(entry.err?.message ?? '').slice(0, 100)}`;
        byMessage.set(why, (byMessage.get(why) ?? 0) + 1);
      } catch {
        // a line cut short by a kill
      }
    }
  }
  return [...byMessage].map(([why, n]) => `${why} ×${n}`);
}

/** On PostgreSQL, the store itself: no window left open, no (window, type) written twice. */
export async function sqlChecks(ctx: DrillContext<unknown>, dbUrl: string): Promise<void> {
  const [open] = await sql<{ n: number }>(dbUrl, 'SELECT count(*)::int AS n FROM contact_windows');
  const repeats = await sql<{ window_id: string }>(
    dbUrl,
    'SELECT window_id FROM events GROUP BY window_id, event_type HAVING count(*) > 1',
  );
  ctx.progress(
    `check (SQL): ${open?.n ?? '?'} windows open, ${repeats.length} (window, type) pairs repeated`,
  );
  if (open?.n !== 0) ctx.fail(`${open?.n} coalescing windows still open after settling`);
  if (repeats.length) ctx.fail(`${repeats.length} windows emitted an event type twice (SQL)`);
  // Why anything was sent more than once, from the attempt log: attempts that did not succeed (and
  // were retried), and leases taken again with no attempt logged (a worker killed or declared dead
  // mid-send, its deliveries taken over); deliveries still being sent (to an endpoint that hangs,
  // say) have a lease and no attempt logged yet, and are left out
  const failedAttempts = await sql<{ why: string; n: number }>(
    dbUrl,
    `SELECT left(coalesce(error, 'HTTP ' || status_code), 70) AS why, count(*)::int AS n
     FROM delivery_attempts WHERE outcome <> 'succeeded' GROUP BY 1 ORDER BY 2 DESC`,
  );
  const [unlogged] = await sql<{ n: number }>(
    dbUrl,
    `SELECT coalesce(sum(d.attempts - (SELECT count(*) FROM delivery_attempts a WHERE a.delivery_id = d.id)), 0)::int AS n
     FROM deliveries d WHERE d.status <> 'sending'`,
  );
  const reasons = failedAttempts.map((r) => `${r.why} ×${r.n}`).join(', ') || 'none';
  ctx.figure('attempts that did not succeed', reasons);
  ctx.figure('leases taken again with no attempt logged (taken over)', unlogged?.n ?? '?');
}
