import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Where `npm run build` puts the portal (Vite, from portal/): dist/portal at the package's root,
 * two folders up from this module both as source (src/api) and as built (dist/api).
 */
export const PORTAL_DIR = fileURLToPath(new URL('../../dist/portal/', import.meta.url));

/**
 * Only this service's own files: scripts, styles, images and API calls from the same origin, no
 * inline script or style, no plugin, and no framing by another site (a click-jacked Delete).
 */
export const PORTAL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

/**
 * The web portal at `/portal`: its hashed assets kept by browsers for a year (a new build has new
 * names), and its page for every client route (`/portal/endpoints/sub_…`), never kept without asking
 * again, so that a deploy shows at the next load. Without a build, `/portal` says how to make one.
 */
export function servePortal(app: FastifyInstance, dir: string = PORTAL_DIR): void {
  const indexFile = join(dir, 'index.html');
  const page = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : undefined;
  void app.register(async (portal) => {
    // after the service's own onSend (`hardenResponses`, no-store everywhere): this scope's answers
    // are the portal's files, which hold no data and may be cached as said here
    portal.addHook('onSend', async (req, reply) => {
      void reply.header('content-security-policy', PORTAL_CSP).header('referrer-policy', 'no-referrer');
      const asset = req.url.startsWith('/portal/assets/') && reply.statusCode === 200;
      const cache = asset
        ? 'public, max-age=31536000, immutable'
        : page && reply.statusCode === 200
          ? 'no-cache'
          : 'no-store';
      void reply.header('cache-control', cache);
    });
    const sendPage = async (_req: FastifyRequest, reply: FastifyReply) => {
      if (page === undefined)
        return reply
          .status(503)
          .type('text/plain; charset=utf-8')
          .send('The portal is not built: run `npm run build` (npm install does it), then restart.\n');
      return reply.type('text/html; charset=utf-8').send(page);
    };
    const hidden = { schema: { hide: true } };
    portal.get('/portal', hidden, sendPage);
    portal.get('/portal/*', hidden, sendPage);
    if (page === undefined) return;
    await portal.register(fastifyStatic, {
      root: join(dir, 'assets'),
      prefix: '/portal/assets/',
      decorateReply: false,
      index: false,
      cacheControl: false,
    });
  });
}
