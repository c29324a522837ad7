import type { FastifyInstance } from 'fastify';
import { operatorKeyFromToken, storedOperatorKey, type OperatorKey } from './api/auth.js';
import { buildApi, buildMetricsApi } from './api/server.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { startRuleScheduler } from './automation/scheduler.js';
import { DeliveryWorker } from './delivery/worker.js';
import { startCoalescer, startEventPurge, startMaintenance, type Runner } from './events/runner.js';
import type { Db } from './store/db.js';
import { migrate } from './store/migrate.js';
import { openDb } from './store/open.js';
import { ensureGeneratedAdminKey } from './store/settings.js';

/** Opens the store and applies pending migrations. */
export async function openMigratedDb(config: Config, log: Logger): Promise<Db> {
  const db = await openDb(config);
  try {
    const applied = await migrate(db);
    log.info(
      { engine: db.engine, applied, ...(db.engine === 'pglite' ? { dataDir: config.dataDir } : {}) },
      applied.length ? 'migrations applied' : 'schema up to date',
    );
    return db;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * The operator key: FPT_ADMIN_TOKEN when set; otherwise one generated on the first start, printed
 * that once, and kept (hashed) in the store.
 */
export async function resolveOperatorKey(db: Db, config: Config, log: Logger): Promise<OperatorKey> {
  if (config.adminToken !== undefined) return operatorKeyFromToken(config.adminToken);
  const generated = await ensureGeneratedAdminKey(db);
  if (generated !== undefined) {
    log.warn(
      { operatorKey: generated },
      'generated the operator key; it is shown only this once: keep it, or set FPT_ADMIN_TOKEN',
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
  const maintenance = startMaintenance(db, log);
  const runners: Runner[] = [
    await startCoalescer(db, log, delivery, metrics),
    delivery,
    await startRuleScheduler(db, { coalesce: config.coalesce, log }),
    startEventPurge(db, config, log),
    ...(maintenance ? [maintenance] : []),
  ];
  return {
    stop: async () => {
      await Promise.all(runners.map((r) => r.stop()));
    },
  };
}

/** The whole service in one process: the API and the background work. */
export async function startService(config: Config, log: Logger): Promise<RunningService> {
  const db = await openMigratedDb(config, log);
  const operatorKey = await resolveOperatorKey(db, config, log);
  const metrics = processMetrics(db);
  const app = buildApi({ db, config, operatorKey, logger: log, metrics });
  let workers: Runner | undefined;
  try {
    await app.listen({ port: config.port, host: config.host });
    workers = await startWorkers(db, config, log, metrics);
  } catch (err) {
    await app.close();
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

/** This process's metrics, with the store's figures read at each scrape. */
function processMetrics(db: Db): Metrics {
  const metrics = new Metrics();
  metrics.watchStore(db);
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
export async function startWorkerProcess(config: Config, log: Logger): Promise<RunningWorker> {
  const db = await openMigratedDb(config, log);
  const metrics = processMetrics(db);
  let app: FastifyInstance | undefined;
  let workers: Runner | undefined;
  try {
    if (config.metricsPort !== undefined) {
      const operatorKey = await resolveOperatorKey(db, config, log);
      app = buildMetricsApi({ db, config, operatorKey, logger: log, metrics });
      await app.listen({ port: config.metricsPort, host: config.host });
    }
    workers = await startWorkers(db, config, log, metrics);
  } catch (err) {
    await app?.close();
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
        await db.close();
      })()),
  };
}
