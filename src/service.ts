import type { FastifyInstance } from 'fastify';
import { operatorKeyFromToken, storedOperatorKey, type OperatorKey } from './api/auth.js';
import { buildApi, buildMetricsApi } from './api/server.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { applyHeapGrowth } from './heap.js';
import { Metrics } from './metrics.js';
import { startRuleScheduler } from './automation/scheduler.js';
import { DeliveryWorker } from './delivery/worker.js';
import { startMaintenance } from './events/maintenance.js';
import { startCoalescer, startEventPurge, type Runner } from './events/runner.js';
import type { Db } from './store/db.js';
import { migrate } from './store/migrate.js';
import { DataDirInUse } from './store/data-dir-lock.js';
import { openDb } from './store/open.js';
import { PgliteDb } from './store/pglite.js';
import { PostgresDb } from './store/postgres.js';
import { ensureGeneratedAdminKey } from './store/settings.js';
import { withSecretsSealing } from './secrets-at-rest.js';
import { startTracing, type Tracing } from './tracing/start.js';
import { StartupError } from './startup-error.js';

export { StartupError };

const NETWORK_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
]);

function startupError(what: string, err: unknown): StartupError {
  let root: unknown = err;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  if (root instanceof AggregateError && root.errors[0] instanceof Error) root = root.errors[0];
  const code = (root as { code?: unknown } | undefined)?.code;
  const reason = root instanceof Error ? root.message : String(root);
  return new StartupError(`${what}: ${reason}`, typeof code === 'string' && NETWORK_FAILURES.has(code), {
    cause: err,
  });
}

/** Where the store is, for a message: the server of DATABASE_URL (no credentials), or the folder. */
function storeName(config: Config): string {
  if (config.databaseUrl === undefined) return `the embedded store in ${config.dataDir}`;
  try {
    const u = new URL(config.databaseUrl);
    return `the database at ${u.host}${u.pathname} (DATABASE_URL)`;
  } catch {
    return 'the database of DATABASE_URL';
  }
}

/**
 * What the log says of the embedded engine: its folder and which code V8 runs it with; a warning
 * when the optimizing compiler was asked for where its memory would stay with the process.
 */
function embeddedFacts(config: Config, log: Logger): { dataDir: string; wasm: string } {
  const { wasmOptimize, heapReturnsCompilerMemory } = config.embedded;
  if (wasmOptimize && !heapReturnsCompilerMemory) {
    log.warn(
      "FPT_EMBEDDED_WASM_OPTIMIZE=1 without MALLOC_MMAP_THRESHOLD_: the optimizing compiler's scratch memory stays with the process (60-90 MB more RSS); start the process with MALLOC_MMAP_THRESHOLD_=32768 in its environment (README, Configuration)",
    );
  }
  return { dataDir: config.dataDir, wasm: wasmOptimize ? 'optimized' : 'baseline' };
}

/** Opens the store and applies pending migrations. */
export async function openMigratedDb(config: Config, log: Logger): Promise<Db> {
  let db: Db;
  try {
    db = await openDb(config);
  } catch (err) {
    if (err instanceof DataDirInUse) throw err;
    throw startupError(`cannot open ${storeName(config)}`, err);
  }
  try {
    const applied = await migrate(db);
    const embedded = db.engine === 'pglite' ? embeddedFacts(config, log) : {};
    log.info(
      { engine: db.engine, applied, ...embedded },
      applied.length ? 'migrations applied' : 'schema up to date',
    );
    return db;
  } catch (err) {
    await db.close().catch(() => {});
    throw startupError(`cannot open ${storeName(config)}`, err);
  }
}

export interface StartOptions {
  /**
   * Shows text meant for the person at the terminal, once, outside the log stream (a generated
   * operator key): stderr unless given.
   */
  showOnce?: (text: string) => void;
}

const toStderr = (text: string): void => {
  process.stderr.write(text);
};

/** What `step` resolves to; the store closed if it fails (the process is not starting). */
async function closingOnError<T>(db: Db, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * The operator key: FPT_ADMIN_TOKEN when set; otherwise one generated on the first start, shown
 * that once on the terminal, and kept (hashed) in the store. The key never goes into the log
 * stream, which shippers keep forever: the log says only that one was generated and how to reset it.
 */
export async function resolveOperatorKey(
  db: Db,
  config: Config,
  log: Logger,
  showOnce: (text: string) => void = toStderr,
): Promise<OperatorKey> {
  if (config.adminToken !== undefined) return operatorKeyFromToken(config.adminToken);
  const generated = await ensureGeneratedAdminKey(db);
  if (generated !== undefined) {
    showOnce(
      `\nThe operator key was generated; it is shown only this once (keep it, or set FPT_ADMIN_TOKEN):\n\n  ${generated}\n\n`,
    );
    log.warn(
      'the operator key was generated and shown once on the terminal (stderr), not in this log; if it was lost, run `fpt-events reset-operator-key` for a new one, or set FPT_ADMIN_TOKEN',
    );
  }
  return storedOperatorKey(db);
}

export interface RunningService {
  app: FastifyInstance;
  db: Db;
  url: string;
  close(): Promise<void>;
}

/**
 * The background work: closing windows into events, delivering them, firing time-triggered
 * automation rules, purging old events, upkeep.
 */
export async function startWorkers(db: Db, config: Config, log: Logger, metrics?: Metrics): Promise<Runner> {
  const delivery = new DeliveryWorker(db, config.delivery, log, { metrics });
  await delivery.start();
  const maintenance = startMaintenance(db, log, { everyMs: config.maintenanceEveryMs });
  const runners: Runner[] = [
    await startCoalescer(db, log, delivery, metrics, maintenance),
    delivery,
    await startRuleScheduler(db, { coalesce: config.coalesce, log }),
    startEventPurge(db, config, log),
    maintenance,
  ];
  return {
    stop: async () => {
      await Promise.all(runners.map((r) => r.stop()));
    },
  };
}

async function listenOn(app: FastifyInstance, port: number, host: string, settings: string): Promise<void> {
  try {
    await app.listen({ port, host });
  } catch (err) {
    throw startupError(`cannot listen on ${host}:${port} (${settings})`, err);
  }
}

/** The whole service in one process: the API and the background work. */
export async function startService(
  config: Config,
  log: Logger,
  opts: StartOptions = {},
): Promise<RunningService> {
  applyHeapGrowth(config.heapGrowingPercent);
  const db = await openMigratedDb(config, log);
  config = await closingOnError(db, withSecretsSealing(db, config, log));
  const operatorKey = await resolveOperatorKey(db, config, log, opts.showOnce);
  const metrics = processMetrics(db);
  // before the API is built: its request spans are installed only while tracing is on
  const tracing = config.tracing && (await startTracing(config.tracing, log));
  const app = buildApi({ db, config, operatorKey, logger: log, metrics });
  // On PostgreSQL the background work has a pool of its own: the API's writes and the coalescer's
  // and the delivery worker's transactions never wait for each other's connections. On the embedded
  // engine it has a lane of its own: a request waits behind at most one background transaction.
  const background =
    config.databaseUrl !== undefined
      ? new PostgresDb({ connectionString: config.databaseUrl, applicationName: 'fpt-events background' })
      : db instanceof PgliteDb
        ? db.inBackground()
        : db;
  let workers: Runner | undefined;
  try {
    await listenOn(app, config.port, config.host, 'HOST, PORT');
    workers = await startWorkers(background, config, log, metrics);
  } catch (err) {
    await app.close();
    if (background !== db) await background.close();
    await tracing?.stop();
    await db.close();
    throw err;
  }
  const url = localUrl(app) ?? `http://127.0.0.1:${config.port}`;
  let closing: Promise<void> | undefined;
  return {
    app,
    db,
    url,
    close: () =>
      (closing ??= (async () => {
        await app.close(); // stops accepting, waits for in-flight requests
        await workers?.stop(); // lets the batch in progress commit
        if (background !== db) await background.close();
        await tracing?.stop(); // exports the spans left
        await db.close();
      })()),
  };
}

/**
 * Where a listening app answers on this machine (its port, which may have been picked at random):
 * the address it is bound to, or loopback when it is bound to every address (0.0.0.0, ::).
 */
function localUrl(app: FastifyInstance): string | undefined {
  const addr = app.server.address();
  if (typeof addr !== 'object' || !addr) return undefined;
  const wildcard = addr.address === '0.0.0.0' || addr.address === '::';
  return `http://${wildcard ? '127.0.0.1' : hostPart(addr.address)}:${addr.port}`;
}

/** The address and port an app is really bound to, as logged: `0.0.0.0:9464`, `[::1]:9464`. */
function boundAddress(app: FastifyInstance): string | undefined {
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? `${hostPart(addr.address)}:${addr.port}` : undefined;
}

const hostPart = (address: string) => (address.includes(':') ? `[${address}]` : address);

/** This process's metrics, with the store's figures (and the embedded engine's memory) read at each scrape. */
function processMetrics(db: Db): Metrics {
  const metrics = new Metrics();
  metrics.watchStore(db);
  if (db instanceof PgliteDb) metrics.watchEmbeddedEngine(db);
  return metrics;
}

export interface RunningWorker {
  db: Db;
  /** where `/metrics`, `/healthz` and `/readyz` are served, when `FPT_METRICS_PORT` is set */
  metricsUrl: string | undefined;
  /** the address and port the metrics port is bound to (HOST), when it is set */
  metricsListening: string | undefined;
  close(): Promise<void>;
}

/** The background work alone (`fpt-events worker`), with `/metrics` on `FPT_METRICS_PORT` if set. */
export async function startWorkerProcess(
  config: Config,
  log: Logger,
  opts: StartOptions = {},
): Promise<RunningWorker> {
  applyHeapGrowth(config.heapGrowingPercent);
  const db = await openMigratedDb(config, log);
  config = await closingOnError(db, withSecretsSealing(db, config, log));
  const metrics = processMetrics(db);
  let app: FastifyInstance | undefined;
  let workers: Runner | undefined;
  let tracing: Tracing | undefined;
  try {
    tracing = config.tracing && (await startTracing(config.tracing, log));
    if (config.metricsPort !== undefined) {
      const operatorKey = await resolveOperatorKey(db, config, log, opts.showOnce);
      app = buildMetricsApi({ db, config, operatorKey, logger: log, metrics });
      await listenOn(app, config.metricsPort, config.host, 'HOST, FPT_METRICS_PORT');
    }
    workers = await startWorkers(db, config, log, metrics);
  } catch (err) {
    await app?.close();
    await tracing?.stop();
    await db.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    db,
    metricsUrl: app && localUrl(app),
    metricsListening: app && boundAddress(app),
    close: () =>
      (closing ??= (async () => {
        await workers?.stop();
        await app?.close();
        await tracing?.stop();
        await db.close();
      })()),
  };
}
