import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { capabilitiesOf } from '../../domain/capabilities.js';
import type { Principal } from '../../domain/principal.js';
import { AppError, forbidden, invalid, notFound } from '../../errors.js';
import { createPortalLink, endPortalSession, exchangePortalLink } from '../../store/portal-sessions.js';
import { auditScopeOfKey, recordAudit } from '../audit.js';
import type { ApiDeps } from '../context.js';
import { AppIdSchema } from '../schemas.js';

/** How long a link may be opened, by default and at most (minutes): long enough to be emailed. */
export const LINK_MINUTES = { default: 60, max: 7 * 24 * 60 };
/** How long a session lasts once opened, by default and at most (minutes). */
export const SESSION_MINUTES = { default: 60, max: 12 * 60 };

const CreateLinkBody = Type.Object(
  {
    appId: Type.Optional(AppIdSchema),
    expiresInMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: LINK_MINUTES.max })),
    sessionMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: SESSION_MINUTES.max })),
  },
  { additionalProperties: false },
);
const ExchangeBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

/** The principal as `GET /api/me` shows it: who, in which scope, what it may do, through what session. */
export function describePrincipal(p: Principal) {
  const common = { session: p.session ?? null, can: capabilitiesOf(p) };
  if (p.kind === 'operator') return { kind: 'operator' as const, ...common };
  return {
    kind: 'api_key' as const,
    id: p.keyId,
    role: p.role,
    organizationId: p.organizationId,
    locationId: p.locationId,
    appId: p.appId,
    ...common,
  };
}

/**
 * Portal links and sessions (docs/api.md, "Portal links and sessions"), as Svix's app-portal
 * access: a key mints a one-time link; opening it gives a session that stands for that key.
 */
export function portalRoutes(root: FastifyInstance, { db }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/api/me', async (req) => describePrincipal(req.principal));

  app.post('/api/portal-links', { schema: { body: CreateLinkBody } }, async (req, reply) => {
    const p = req.principal;
    if (p.session) throw forbidden('a portal session cannot mint portal links; use an API key');
    const body = req.body ?? {};
    if (body.appId !== undefined) {
      // a partner key's link is for its own app; another app does not exist for it
      if (p.kind === 'api_key' && p.role === 'partner') {
        if (body.appId !== p.appId) throw notFound(`app ${body.appId}`);
      } else {
        throw invalid(
          'appId',
          "a link opens the view of the key that makes it; to open a partner app's portal, make the link with one of the app's partner keys",
          'invalid_app',
        );
      }
    }
    const keyId = p.kind === 'api_key' ? p.keyId : null;
    const link = await db.transaction(async (tx) => {
      const made = await createPortalLink(tx, {
        keyId,
        linkMinutes: body.expiresInMinutes ?? LINK_MINUTES.default,
        sessionMinutes: body.sessionMinutes ?? SESSION_MINUTES.default,
      });
      await recordAudit(tx, req, {
        action: 'portal_link.created',
        targetType: p.kind === 'api_key' ? 'api_key' : 'operator_key',
        targetId: keyId ?? 'operator',
        ...(p.kind === 'api_key' ? await auditScopeOfKey(tx, p) : {}),
        details: {
          expiresAt: made.expiresAt,
          sessionMinutes: body.sessionMinutes ?? SESSION_MINUTES.default,
        },
      });
      return made;
    });
    // the token rides in the fragment: browsers do not send it to the server or in a Referer
    const url = `${req.protocol}://${req.host}/portal/#/link/${link.token}`;
    return reply.status(201).send({ url, expiresAt: link.expiresAt });
  });

  app.post('/api/portal-sessions', { schema: { body: ExchangeBody } }, async (req, reply) => {
    const session = await db.transaction((tx) => exchangePortalLink(tx, req.body.token));
    return reply.status(201).send({
      sessionToken: session.token,
      expiresAt: session.expiresAt,
      principal: describePrincipal(session.principal),
    });
  });

  app.delete('/api/portal-sessions/current', async (req, reply) => {
    const session = req.principal.session;
    if (!session) {
      throw new AppError(
        400,
        'not_a_session',
        'this request is authenticated by an API key, not a portal session: revoke keys with DELETE /api/api-keys/{id}',
        'Authorization',
      );
    }
    await endPortalSession(db, session.id);
    return reply.status(204).send();
  });
}
