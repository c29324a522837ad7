import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { HEALTH_WINDOWS, subscriptionHealth, type HealthWindow } from '../../store/subscription-health.js';
import type { ApiDeps } from '../context.js';
import { SubParams, visibleSubscription } from './subscriptions.js';

const HealthQuery = Type.Object(
  {
    window: Type.Optional(Type.Unsafe<HealthWindow>({ type: 'string', enum: Object.keys(HEALTH_WINDOWS) })),
  },
  { additionalProperties: false },
);

/** `GET /api/subscriptions/{id}/health`: whoever may read the subscription may read its health. */
export function subscriptionHealthRoutes(root: FastifyInstance, { db }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/subscriptions/:id/health',
    { schema: { params: SubParams, querystring: HealthQuery } },
    async (req) => {
      const sub = await visibleSubscription(db, req, req.params.id, 'read');
      return { subscriptionId: sub.id, ...(await subscriptionHealth(db, sub.id, req.query.window ?? '24h')) };
    },
  );
}
