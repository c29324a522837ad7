import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import type { ChangeMeta } from '../src/store/contacts.js';
import { quoteIdent, type Db } from '../src/store/db.js';
import { createLocation, createOrganization } from '../src/store/tenants.js';
import { migrate } from '../src/store/migrate.js';
import { PgliteDb } from '../src/store/pglite.js';
import { PostgresDb } from '../src/store/postgres.js';

export type BenchEngine = 'pglite' | 'postgres';

export const PG_URL = process.env.FPT_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDb {
  db: Db;
  /** another handle on the same data, as a second process would have (PostgreSQL only) */
  another(): Db;
  close(): Promise<void>;
}

/**
 * A fresh, migrated store for one benchmark run: PGlite in a temporary data folder (on disk, as the
 * embedded default runs), or a throwaway schema on the PostgreSQL server.
 */
export async function openBenchDb(engine: BenchEngine): Promise<BenchDb> {
  if (engine === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'fpt-bench-'));
    const db = await PgliteDb.open(dir);
    await migrate(db);
    return {
      db,
      another: () => {
        throw new Error('the embedded engine is one process');
      },
      close: async () => {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `fpt_bench_${randomBytes(4).toString('hex')}`;
  const admin = new PostgresDb({ connectionString: PG_URL, maxConnections: 1 });
  await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  const others: Db[] = [];
  const db = new PostgresDb({ connectionString: PG_URL, schema, maxConnections: 4 });
  await migrate(db);
  return {
    db,
    another: () => {
      const d = new PostgresDb({ connectionString: PG_URL, schema, maxConnections: 4 });
      others.push(d);
      return d;
    },
    close: async () => {
      for (const o of others) await o.close();
      await db.close();
      await admin.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
      await admin.close();
    },
  };
}

/** An organization with one location (default group Leads), and the change context of a bulk import. */
export async function benchTenant(db: Db, coalesce = { quietMs: 0, maxMs: 0 }) {
  const org = await createOrganization(db, 'Bench Org');
  const location = await createLocation(db, {
    name: 'Bench',
    organizationId: org.id,
    defaultContactGroupId: 1,
  });
  const meta: ChangeMeta = { source: 'import', actorType: 'system', actorId: null };
  return { org, location, meta, coalesce };
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, Node ${process.version}`;
}

export function progress(msg: string): void {
  process.stderr.write(`  ${msg}\n`);
}

export const rate = (n: number, ms: number): number => Math.round((n * 1000) / ms);

export function parseEngines(arg: string | undefined): BenchEngine[] {
  if (arg === undefined || arg === 'both') return ['pglite', 'postgres'];
  if (arg === 'pglite' || arg === 'postgres') return [arg];
  throw new Error(`--engine must be pglite, postgres or both, not ${arg}`);
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

export const summarize = (sorted: readonly number[]) => ({
  p50: percentile(sorted, 0.5),
  p99: percentile(sorted, 0.99),
  max: sorted.at(-1)!,
});

/** One backlog run: `events` deliveries made ready, then delivered as fast as the system goes. */
export interface ThroughputRun {
  events: number;
  /** before any worker starts: enqueueing the jobs, or (this project) writing the contacts */
  writeMs: number;
  /** from the workers' start until the receiver has every event */
  deliverMs: number;
  /** CPU work of the whole machine over `deliverMs`, where counted (see `MachineWork`) */
  work?: { instructions: number; cycles: number };
}

export interface LatencyRun {
  /** events per second actually offered */
  offered: number;
  events: number;
  /**
   * ms, sorted, from the moment the deliveries were queued to arrival at the receiver: for a job
   * queue, the enqueue call; for this project, the window's close (the transaction that stores the
   * events and their deliveries)
   */
  fromQueued: number[];
  /** ms, sorted, from the contact write to arrival (this project only: includes picking the window up) */
  fromWrite?: number[];
}

/** An envelope as partners receive it: the body size every system under test posts. */
export const SAMPLE_ENVELOPE = {
  eventId: '019a4f0c8e2b7d3a9c1e5f7a2b4c6d8e',
  eventType: 'contact.status_changed',
  eventTimestamp: '2026-06-10T23:45:00.123Z',
  locationId: 1234,
  organizationId: 5678,
  apiVersion: 'v1',
  data: { contactId: 9876, previousStatusId: 1, newStatusId: 3 },
};

/** The partner endpoint (`receiver.ts`) in its own process, so it never shares an event loop with the sender. */
export class ReceiverProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** the receiver's process id (for its CPU time) */
  get pid(): number {
    return this.child.pid!;
  }

  static start(): Promise<ReceiverProcess> {
    const child = fork(new URL('./receiver.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
    });
    return new Promise((resolve) =>
      child.once('message', (m: { port: number }) => resolve(new ReceiverProcess(child, m.port))),
    );
  }

  private ask<T>(cmd: string): Promise<T> {
    return new Promise((resolve) => {
      this.child.once('message', (m: T) => resolve(m));
      this.child.send({ cmd });
    });
  }

  count = async () => (await this.ask<{ count: number }>('count')).count;
  /** [webhook-id, ms since epoch at arrival, the event's data.contactId] of every request since the last reset */
  receipts = async () =>
    (await this.ask<{ receipts: [string, number, number | null][] }>('receipts')).receipts;
  reset = () => this.ask('reset');
  /** Stops the receiver process (it exits without answering). */
  stop = () =>
    new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.send({ cmd: 'exit' });
    });

  /** Resolves once `n` requests have arrived, reporting progress every fifth of the way. */
  async waitFor(n: number, label: string): Promise<void> {
    let last = 0;
    for (;;) {
      const c = await this.count();
      if (c >= n) return;
      if (c - last >= n / 5) progress(`${label}: ${(last = c)} of ${n} received`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * The raw HTTP ceiling: a plain undici Pool loop, 32 requests in flight, posting an envelope-sized
 * body to the receiver, with nothing signed, queued or recorded. Requests per second.
 */
export async function rawCeiling(port: number, n: number, phase?: Phase): Promise<number> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
  const body = JSON.stringify(SAMPLE_ENVELOPE);
  let next = 0;
  phase?.start();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < n) {
        const res = await pool.request({
          path: '/hooks',
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        await res.body.dump();
      }
    }),
  );
  const ms = performance.now() - t0;
  await phase?.end();
  await pool.close();
  return rate(n, ms);
}

/** The timed part of a throughput run, marked for a caller that measures more than time. */
export interface Phase {
  start(): void;
  end(): Promise<void>;
}

/**
 * CPU work of the whole machine over a phase, counted by `perf stat -a`: instructions and cycles
 * of every process (this one, the receiver, the database or Redis, and whatever else runs). On a
 * host whose speed drifts (this one's raw HTTP ceiling moved between 5,700 and 14,900 POSTs/s
 * within an hour), instructions per event compare systems where events/s measured minutes apart
 * cannot. `create()` is undefined where perf cannot count.
 */
export class MachineWork implements Phase {
  private child: ChildProcess | undefined;
  private output = '';
  /** the last phase's counts */
  last: { instructions: number; cycles: number } | undefined;

  private constructor() {}

  static create(): MachineWork | undefined {
    const probe = spawnSync('perf', ['stat', '-a', '-x,', '-e', 'instructions', 'true'], {
      encoding: 'utf8',
    });
    return probe.status === 0 && /,instructions/.test(probe.stderr) ? new MachineWork() : undefined;
  }

  start(): void {
    this.output = '';
    this.last = undefined;
    this.child = spawn('perf', ['stat', '-a', '-x,', '-e', 'instructions,cycles'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
  }

  async end(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    });
    const count = (event: string) =>
      Number(
        this.output
          .split('\n')
          .find((l) => l.includes(`,${event},`))
          ?.split(',')[0],
      );
    const instructions = count('instructions');
    const cycles = count('cycles');
    this.last =
      Number.isFinite(instructions) && Number.isFinite(cycles) ? { instructions, cycles } : undefined;
  }
}
