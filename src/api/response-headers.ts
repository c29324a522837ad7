import type { FastifyInstance } from 'fastify';

/**
 * Headers on every answer, errors and 404s included: nothing is kept by a cache on the way or in
 * a browser (answers hold API keys, signing secrets and members' personal data), and no browser
 * guesses a content type other than the one sent.
 */
export function hardenResponses(app: FastifyInstance): void {
  app.addHook('onSend', async (_req, reply) => {
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
  });
}
