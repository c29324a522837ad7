/**
 * The pieces `bench/api.ts` drives: `serve` processes of a checkout on a fresh store, the tenant and
 * contacts they are loaded with, and the PostgreSQL-side probes (wait events, commits, pgbench).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { processCpuSeconds } from './cpu.js';
import { PG_URL, progress, type BenchEngine } from './lib.js';

export const OPERATOR = 'bench-operator-key-0123456789';

/** A fresh store for one set of runs: a new PostgreSQL database, or an embedded data folder. */
export interface Store {
  engine: BenchEngine;
  env: Record<string, string>;
  /** the database's name (PostgreSQL) */
  dbName?: string;
  url?: string;
  drop(): Promise<void>;
}

export async function freshStore(engine: BenchEngine): Promise<Store> {
  if (engine === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'fpt-bench-api-'));
    return {
      engine,
      env: { FPT_DATA_DIR: dir },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const dbName = `fpt_bench_api_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${dbName}`;
  return {
    engine,
    env: { DATABASE_URL: url.toString() },
    dbName,
    url: url.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: PG_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await a.end();
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** One `fpt-events serve` of a checkout (`root`), in its own process. */
export class ServeProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(
    root: string,
    store: Store,
    extraEnv: Record<string, string> = {},
    /** options for node itself (a profiler, say) */
    nodeArgs: readonly string[] = [],
  ): Promise<ServeProcess> {
    const port = await freePort();
    // FPT_BENCH_SERVE_LOG=<file>: the processes' debug log appended there (what the maintenance
    // rounds did and how long they took, say), instead of warnings only and nothing kept
    const logTo = process.env.FPT_BENCH_SERVE_LOG;
    // FPT_BENCH_SERVE_CPU_PROF=<dir>: each serve writes a V8 CPU profile there when it stops
    // (bench/api-profile.ts --from <dir> summarizes one)
    const profDir = process.env.FPT_BENCH_SERVE_CPU_PROF;
    const child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
        '--import',
        'tsx',
        join(root, 'src/cli.ts'),
        'serve',
      ],
      {
        cwd: root,
        stdio: ['ignore', logTo ? openSync(logTo, 'a') : 'ignore', 'pipe'],
        env: {
          ...process.env,
          ...store.env,
          PORT: String(port),
          HOST: '127.0.0.1',
          FPT_ADMIN_TOKEN: OPERATOR,
          LOG_LEVEL: logTo ? 'debug' : 'warn',
          LOG_FORMAT: 'json',
          FPT_RATE_LIMIT_PER_SECOND: '0',
          FPT_COALESCE_QUIET_MS: '0',
          FPT_COALESCE_MAX_MS: '0',
          FPT_ALLOW_PRIVATE_URLS: '1',
          ...extraEnv,
        },
      },
    );
    let stderr = '';
    // (stderr is always a pipe: the stdio above says so, though its type cannot)
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`serve (${root}) exited: ${stderr}`);
      try {
        if ((await fetch(`${url}/readyz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (i > 600) throw new Error(`serve (${root}) not ready after 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return new ServeProcess(child, url);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number {
    return processCpuSeconds(this.child.pid!);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

/** A JSON call to the API; throws unless the status is the expected one. */
export async function call<T>(
  base: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  expect = 200,
): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/**
 * An organization with one location, `contacts` contacts imported there (before any subscription,
 * so that their creation is not delivered), a staff key for the organization, and then one
 * subscription delivering every event to `hookUrl`. Returns the key and the contacts' ids.
 */
export async function loadTenant(
  base: string,
  contacts: number,
  hookUrl: string,
): Promise<{ key: string; ids: number[]; flips: GroupFlips }> {
  const org = await call<{ id: number }>(
    base,
    OPERATOR,
    'POST',
    '/api/organizations',
    { name: 'Bench' },
    201,
  );
  const loc = await call<{ id: number }>(
    base,
    OPERATOR,
    'POST',
    '/api/locations',
    { name: 'Bench gym', organizationId: org.id },
    201,
  );
  const { key } = await call<{ key: string }>(
    base,
    OPERATOR,
    'POST',
    '/api/api-keys',
    { role: 'staff', organizationId: org.id, description: 'bench' },
    201,
  );
  for (let done = 0; done < contacts; done += 20_000) {
    const n = Math.min(20_000, contacts - done);
    const rows = Array.from({ length: n }, (_, i) => ({ externalId: `b${done + i}`, firstName: 'Bench' }));
    await call(base, key, 'POST', `/api/locations/${loc.id}/contacts/import`, { contacts: rows });
    progress(`${done + n} of ${contacts} contacts imported`);
  }
  const ids: number[] = [];
  for (let after = 0; ;) {
    const page = await call<{ data: { contactId: number }[]; nextCursor: string | null }>(
      base,
      key,
      'GET',
      `/api/locations/${loc.id}/contacts?limit=500&after=${after}`,
    );
    ids.push(...page.data.map((c) => c.contactId));
    if (page.nextCursor === null) break;
    after = Number(page.nextCursor);
  }
  // the imports' windows close at once (quiet 0); their events predate the subscription
  await waitWindowsClosed(base, key, 2 * contacts);
  await call(base, OPERATOR, 'POST', '/api/subscriptions', { url: hookUrl, organizationId: org.id }, 201);
  return { key, ids, flips: new GroupFlips() };
}

/**
 * Bodies of PATCHes that move a contact to the other of contact groups 2 and 3 than the one the
 * bench last put it in (imported contacts are in neither): every PATCH a bench sends changes the
 * contact and derives its two events (status_changed and updated), whichever phases wrote the
 * contact before. (A phase that set a fixed group wrote no-ops to contacts an earlier phase had set
 * to it, and measured writes that deliver nothing.)
 */
export class GroupFlips {
  private readonly group = new Map<number, number>();

  body(contactId: number): string {
    const next = this.group.get(contactId) === 2 ? 3 : 2;
    this.group.set(contactId, next);
    return `{"contactGroupId":${next}}`;
  }
}

/**
 * Waits until the imports' windows are closed: reads the event stream until `expected` events
 * (a created and an updated per contact) have appeared, or none has for two seconds.
 */
async function waitWindowsClosed(base: string, key: string, expected: number): Promise<void> {
  let cursor = '0';
  let seen = 0;
  let idleSince = performance.now();
  while (seen < expected && performance.now() - idleSince < 2000) {
    const page = await call<{ nextCursor: string; data: unknown[] }>(
      base,
      key,
      'GET',
      `/api/events?limit=1000&after=${cursor}`,
    );
    cursor = page.nextCursor;
    seen += page.data.length;
    if (page.data.length > 0) idleSince = performance.now();
    else await new Promise((r) => setTimeout(r, 100));
  }
}

/** Samples pg_stat_activity of one database: what its client sessions are doing. */
export class WaitSampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private constructor(
    private readonly client: pg.Client,
    private readonly dbName: string,
  ) {}

  static async start(url: string, dbName: string, everyMs = 100): Promise<WaitSampler> {
    const client = new pg.Client({ connectionString: url, application_name: 'bench sampler' });
    await client.connect();
    const s = new WaitSampler(client, dbName);
    const tick = async () => {
      const { rows } = await client.query<{ what: string }>(
        `SELECT coalesce(state, '?') || coalesce(' / ' || wait_event_type || ':' || wait_event, '') AS what
         FROM pg_stat_activity
         WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()
           AND application_name <> 'fpt-events listener'`,
        [s.dbName],
      );
      s.samples++;
      for (const r of rows) s.counts.set(r.what, (s.counts.get(r.what) ?? 0) + 1);
    };
    s.timer = setInterval(() => void tick().catch(() => undefined), everyMs);
    return s;
  }

  /** The commonest session states, as "state / wait: mean sessions". */
  async stop(): Promise<string> {
    clearInterval(this.timer);
    await this.client.end();
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([what, n]) => `${what}: ${(n / Math.max(1, this.samples)).toFixed(1)}`)
      .join('; ');
  }
}

/** Committed transactions of a database so far (pg_stat_database; flushed within about a second). */
export async function commits(url: string, dbName: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('SELECT pg_stat_force_next_flush()').catch(() => undefined);
    const { rows } = await c.query<{ n: string }>(
      'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1',
      [dbName],
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

/**
 * The statements one PATCH of a contact's group writes (update, history row, window upsert,
 * notify), as one pgbench transaction on a random contact: the database's own ceiling for these
 * writes on this machine. `notify: false` leaves out the pg_notify.
 */
export function pgbenchScript(notify: boolean): string {
  return `\\set id random(:lo, :hi)
BEGIN;
UPDATE contacts SET contact_group_id = CASE WHEN contact_group_id = 2 THEN 3 ELSE 2 END, seq = seq + 1, updated_at = now() WHERE contact_id = :id RETURNING seq, location_id \\gset
INSERT INTO contact_history (contact_id, seq, location_id, operation, changes, source, actor_type, actor_id) VALUES (:id, :seq, :location_id, 'update', '{"contactGroupId": {"from": 2, "to": 3}}', 'staff', 'api_key', 1);
INSERT INTO contact_windows AS w (contact_id, window_id, before_state, default_group_id, first_seq, last_seq, opened_at, last_change_at, close_at) VALUES (:id, md5(random()::text), '{}', NULL, :seq, :seq, now(), now(), now()) ON CONFLICT (contact_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_change_at = EXCLUDED.last_change_at, close_at = EXCLUDED.close_at;
${notify ? "SELECT pg_notify('fpt_windows_public', NULL);\n" : ''}END;
`;
}

/** pgbench of one script against the store's database: transactions per second. */
export function pgbench(
  store: Store,
  script: string,
  ids: number[],
  clients: number,
  seconds: number,
): number {
  const dir = mkdtempSync(join(tmpdir(), 'fpt-pgbench-'));
  const file = join(dir, 'tx.sql');
  writeFileSync(file, script);
  try {
    const r = spawnSync(
      'pgbench',
      [
        '-n',
        '-f',
        file,
        '-c',
        String(clients),
        '-j',
        '2',
        '-T',
        String(seconds),
        '-D',
        `lo=${Math.min(...ids)}`,
        '-D',
        `hi=${Math.max(...ids)}`,
        store.url!,
      ],
      { encoding: 'utf8' },
    );
    const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout);
    if (!m) throw new Error(`pgbench failed: ${r.stderr || r.stdout}`);
    return Math.round(Number(m[1]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
