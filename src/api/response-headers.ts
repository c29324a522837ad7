import type { FastifyInstance } from 'fastify';
import { drainsRefusedBody } from './oversized-bodies.js';

/**
 * Headers on every answer, errors and 404s included: nothing is kept by a cache on the way or in
 * a browser (answers hold API keys, signing secrets and members' personal data), and no browser
 * guesses a content type other than the one sent. A 413 keeps its connection while the refused
 * body is read and thrown away, up to 16 MiB (`drainsRefusedBody`).
 */
export function hardenResponses(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply) => {
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
    if (drainsRefusedBody(reply.statusCode, req.headers['content-length'])) reply.removeHeader('connection');
  });
}
