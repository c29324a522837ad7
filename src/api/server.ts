import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Db } from '../store/db.js';
import { migrationsApplied } from '../store/migrate.js';
import { requireAuthentication, type OperatorKey } from './auth.js';
import { installErrorHandling } from './errors.js';
import { hardenResponses } from './response-headers.js';
import { installIdempotency } from './idempotency.js';
import { installOpenApi } from './openapi/document.js';
import { serializerCompiler } from './openapi/serializer.js';
import { servePortal } from './portal.js';
import { installRateLimits } from './rate-limit.js';
import { PACKAGE_VERSION } from '../version.js';
import { logEachRequest, quietRequests } from './request-log.js';
import { appRoutes } from './routes/apps.js';
import { auditLogRoutes } from './routes/audit-log.js';
import { automationRoutes } from './routes/automations.js';
import { contactRoutes, importRoutes } from './routes/contacts.js';
import { contactTimelineRoutes } from './routes/contact-timeline.js';
import { eventRoutes } from './routes/events.js';
import { subscriptionDeliveryRoutes } from './routes/subscription-deliveries.js';
import { subscriptionHealthRoutes } from './routes/subscription-health.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { subGroupRoutes } from './routes/sub-groups.js';
import { metricsRoutes } from './routes/metrics.js';
import { portalRoutes } from './routes/portal.js';
import { platformHealthRoutes } from './routes/platform-health.js';
import { tenantRoutes } from './routes/tenants.js';
import { validatorCompiler } from './validation.js';
import { AppError } from '../errors.js';
import { traceRequests } from '../tracing/http.js';
import { SingleReads } from '../contacts/single-reads.js';
import { SingleWrites } from '../contacts/single-writes.js';
import { KeyCache } from './key-cache.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the handler reads and checks the body itself (a bulk import: JSON or a CSV stream) */
    ownBody?: boolean;
  }
}

/**
 * A route that takes no body still gets one parsed when a client sends it; its fields would be
 * silently ignored (`POST …/reactivate {"contactGroupId": 3}` reactivating and dropping the group),
 * the silent no-op that body validation refuses everywhere else. No body, or `{}`, is accepted.
 */
function refuseUnexpectedBody(body: unknown): void {
  if (body === undefined) return;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const [field] = Object.keys(body);
    if (field === undefined) return;
    throw new AppError(
      400,
      'unknown_field',
      `unknown field "${field}": this endpoint takes no request body`,
      field,
    );
  }
  throw new AppError(400, 'invalid_request', 'this endpoint takes no request body (send none, or {})');
}

/** `GET /readyz`: 200 while the store answers and every migration is applied, 503 otherwise. */
function readinessRoute(app: FastifyInstance, db: Db): void {
  app.get('/readyz', async (_req, reply) => {
    try {
      await db.ping();
      if (await migrationsApplied(db)) return { status: 'ready' };
      return reply.status(503).send({ status: 'not_ready', reason: 'migrations not applied' });
    } catch {
      return reply.status(503).send({ status: 'not_ready', reason: 'store unreachable' });
    }
  });
}

export interface ApiOptions {
  db: Db;
  config: Config;
  operatorKey: OperatorKey;
  logger: Logger;
  /** this process's metrics: with them, `GET /metrics` and a histogram of every request */
  metrics?: Metrics;
  /** where the built portal is (`PORTAL_DIR` unless given) */
  portalDir?: string;
}

/** The HTTP API, ready to `listen` (or to `inject` in tests). */
export function buildApi({
  db,
  config,
  operatorKey,
  logger,
  metrics,
  portalDir,
}: ApiOptions): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    logController: quietRequests(),
    bodyLimit: config.bodyLimit,
    // ids in paths are numbers; a trailing slash is the same route
    routerOptions: { ignoreTrailingSlash: true },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // a CSV import is read as a stream by its route (csv-parse), never buffered whole
  app.addContentTypeParser('text/csv', (_req, payload, done) => done(null, payload));
  // Fastify reads text/plain as a string by default; bodies here are JSON (or CSV for imports)
  app.removeContentTypeParser('text/plain');
  traceRequests(app); // a span per request, while tracing is on
  app.addHook('preValidation', async (req) => {
    if (req.routeOptions.schema?.body === undefined && !req.routeOptions.config.ownBody) {
      refuseUnexpectedBody(req.body);
    }
  });
  installErrorHandling(app);
  hardenResponses(app);
  // (before authentication: an address out of failed attempts is refused before its key is checked)
  installRateLimits(app, config.rateLimits);
  installIdempotency(app, db);
  const keys = new KeyCache();
  requireAuthentication(app, db, operatorKey, keys);
  logEachRequest(app);

  installOpenApi(app, PACKAGE_VERSION);
  // the routes go in once the OpenAPI plugin has loaded, so that it sees every one of them
  app.after((err) => {
    if (err) throw err;

    app.get('/healthz', async () => ({ status: 'ok' }));
    readinessRoute(app, db);

    if (metrics) metricsRoutes(app, { metrics, operatorKey, metricsToken: config.metricsToken });

    const deps = {
      db,
      config,
      keys,
      singleWrites: new SingleWrites(db, config.coalesce),
      singleReads: new SingleReads(db),
    };
    tenantRoutes(app, deps);
    subGroupRoutes(app, deps);
    contactRoutes(app, deps);
    importRoutes(app, deps);
    automationRoutes(app, deps);
    eventRoutes(app, deps);
    appRoutes(app, deps);
    subscriptionRoutes(app, deps);
    subscriptionDeliveryRoutes(app, deps);
    auditLogRoutes(app, deps);
    portalRoutes(app, deps);
    subscriptionHealthRoutes(app, deps);
    contactTimelineRoutes(app, deps);
    platformHealthRoutes(app, deps);
    servePortal(app, portalDir);
  });
  return app;
}

/**
 * What a `worker` process (no API) serves on `FPT_METRICS_PORT`: `/healthz`, `/readyz` and
 * `/metrics`, with the same checks and error bodies as the API.
 */
export function buildMetricsApi(opts: {
  db: Db;
  config: Config;
  operatorKey: OperatorKey;
  logger: Logger;
  metrics: Metrics;
}): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = opts.logger;
  const app = Fastify({
    loggerInstance,
    logController: quietRequests(),
    routerOptions: { ignoreTrailingSlash: true },
  });
  installErrorHandling(app);
  hardenResponses(app);
  logEachRequest(app);
  app.get('/healthz', async () => ({ status: 'ok' }));
  readinessRoute(app, opts.db);
  metricsRoutes(app, {
    metrics: opts.metrics,
    operatorKey: opts.operatorKey,
    metricsToken: opts.config.metricsToken,
  });
  return app;
}
