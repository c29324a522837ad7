import type { FastifyInstance } from 'fastify';
import { requireOperator } from '../../domain/principal.js';
import { attemptsPerMinute, storeFigures } from '../../store/platform-figures.js';
import type { ApiDeps } from '../context.js';

/** How many minutes of delivery figures `GET /api/platform/health` lists. */
export const PLATFORM_MINUTES = 60;

/**
 * `GET /api/platform/health` (the operator): the store's figures `/metrics` shows, and the last
 * hour's delivery attempts per minute, across every tenant.
 */
export function platformHealthRoutes(app: FastifyInstance, { db }: ApiDeps): void {
  app.get('/api/platform/health', async (req) => {
    requireOperator(req.principal);
    const [figures, perMinute] = await Promise.all([
      storeFigures(db, db.engine),
      attemptsPerMinute(db, PLATFORM_MINUTES),
    ]);
    return {
      at: new Date().toISOString(),
      deliveryLagSeconds: figures.lagSeconds,
      backlog: { pending: figures.pending, sending: figures.sending },
      openWindows: figures.openWindows,
      liveWorkers: figures.workers,
      subscriptions: figures.subscriptions,
      disabledEndpoints: figures.subscriptions.disabled,
      perMinute,
    };
  });
}
