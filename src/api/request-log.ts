import { LogController, type FastifyInstance } from 'fastify';

/** Fastify's own per-request lines off (its option for it): `logEachRequest` writes one instead. */
export const quietRequests = () => new LogController({ disableRequestLogging: true });

/**
 * One log line per request, when its answer has been sent (Fastify's own logging writes two: the
 * request and the response): method, URL, status and duration, at `info` (`error` for a 5xx).
 * Install with `logController: quietRequests()`.
 */
export function logEachRequest(app: FastifyInstance): void {
  app.addHook('onResponse', async (req, reply) => {
    const statusCode = reply.statusCode;
    const responseTimeMs = Math.round(reply.elapsedTime * 10) / 10;
    const entry = { method: req.method, url: req.url, statusCode, responseTimeMs };
    const msg = `${req.method} ${req.url} ${statusCode} ${responseTimeMs} ms`;
    if (statusCode >= 500) req.log.error(entry, msg);
    else req.log.info(entry, msg);
  });
}
