import type { FastifyInstance } from 'fastify';
import { METRICS_CONTENT_TYPE, type Metrics } from '../../metrics.js';
import { authorizeMetrics, operatorKeyFromToken, type OperatorKey } from '../auth.js';

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
  // (hashed once, compared in constant time like the operator key)
  const token = metricsToken === undefined ? undefined : operatorKeyFromToken(metricsToken);
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
  // public to the API's authentication (its contract says so): it takes its own keys
  app.get('/metrics', async (req, reply) => {
    await authorizeMetrics(req, operatorKey, token);
    return reply.type(METRICS_CONTENT_TYPE).send(await metrics.text());
  });
}
