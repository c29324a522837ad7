import type { FastifyInstance } from 'fastify';
import { METRICS_CONTENT_TYPE, type Metrics } from '../../metrics.js';
import { authorizeMetrics, type OperatorKey } from '../auth.js';

export interface MetricsDeps {
  metrics: Metrics;
  operatorKey: OperatorKey;
  metricsToken: string | undefined;
}

/**
 * `GET /metrics`, Prometheus's text format, for the operator key or `FPT_METRICS_TOKEN`; and a
 * histogram of every request this app answers, by method, route pattern (never the raw path, so
 * ids do not multiply the series) and status.
 */
export function metricsRoutes(
  app: FastifyInstance,
  { metrics, operatorKey, metricsToken }: MetricsDeps,
): void {
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequestSeconds.observe(
      {
        method: req.method,
        route: req.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', async (req, reply) => {
    await authorizeMetrics(req, operatorKey, metricsToken);
    return reply.type(METRICS_CONTENT_TYPE).send(await metrics.text());
  });
}
