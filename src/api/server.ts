import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Db } from '../store/db.js';
import { migrationsApplied } from '../store/migrate.js';
import { authenticate, type OperatorKey } from './auth.js';
import { installErrorHandling } from './errors.js';
import { automationRoutes } from './routes/automations.js';
import { contactRoutes, importRoutes } from './routes/contacts.js';
import { eventRoutes } from './routes/events.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { subGroupRoutes } from './routes/sub-groups.js';
import { tenantRoutes } from './routes/tenants.js';
import { validatorCompiler } from './validation.js';

export interface ApiOptions {
  db: Db;
  config: Config;
  operatorKey: OperatorKey;
  logger: Logger;
}

/** The HTTP API, ready to `listen` (or to `inject` in tests). */
export function buildApi({ db, config, operatorKey, logger }: ApiOptions): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: config.bodyLimit,
    // ids in paths are numbers; a trailing slash is the same route
    routerOptions: { ignoreTrailingSlash: true },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  app.setValidatorCompiler(validatorCompiler);
  // a CSV import is read as a stream by its route (csv-parse), never buffered whole
  app.addContentTypeParser('text/csv', (_req, payload, done) => done(null, payload));
  installErrorHandling(app);

  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/api/')) req.principal = await authenticate(db, operatorKey, req);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await db.ping();
      if (await migrationsApplied(db)) return { status: 'ready' };
      return reply.status(503).send({ status: 'not_ready', reason: 'migrations not applied' });
    } catch {
      return reply.status(503).send({ status: 'not_ready', reason: 'store unreachable' });
    }
  });

  const deps = { db, config };
  tenantRoutes(app, deps);
  subGroupRoutes(app, deps);
  contactRoutes(app, deps);
  importRoutes(app, deps);
  automationRoutes(app, deps);
  eventRoutes(app, deps);
  subscriptionRoutes(app, deps);
  return app;
}
