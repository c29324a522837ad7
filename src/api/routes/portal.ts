import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { capabilitiesOf } from '../../domain/capabilities.js';
import { scopeFilter, type Principal } from '../../domain/principal.js';
import { AppError, forbidden, invalid, notFound } from '../../errors.js';
import { getApp, listApps } from '../../store/apps.js';
import type { Queryable } from '../../store/db.js';
import {
  createPortalLink,
  endPortalSession,
  exchangePortalLink,
  type LinkApp,
} from '../../store/portal-sessions.js';
import { getLocation, getOrganization } from '../../store/tenants.js';
import { auditScopeOfPrincipal, recordAudit } from '../audit.js';
import type { ApiDeps } from '../context.js';
import { AppIdSchema, Id } from '../schemas.js';

/** How long a link may be opened, by default and at most (minutes): long enough to be emailed. */
export const LINK_MINUTES = { default: 60, max: 7 * 24 * 60 };
/** How long a session lasts once opened, by default and at most (minutes). */
export const SESSION_MINUTES = { default: 60, max: 12 * 60 };

const CreateLinkBody = Type.Object(
  {
    appId: Type.Optional(AppIdSchema),
    // the operator's link for a partner app names the scope it opens, as when it makes an app's key
    organizationId: Type.Optional(Id),
    locationId: Type.Optional(Id),
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
    limitedBy: p.limitedBy ?? null,
    ...common,
  };
}

/**
 * The partner app a new link is limited to (docs/api.md, "Portal links and sessions"), checked:
 * a partner key's own app needs no limit (its session stands for the key); a staff key names an app
 * it deals with (one with a key or a subscription in its scope), and its scope stays the key's; the
 * operator names any app and the scope it opens, one of organizationId or locationId.
 */
async function linkApp(
  db: Queryable,
  p: Principal,
  body: { appId?: string; organizationId?: number; locationId?: number },
): Promise<LinkApp | undefined> {
  const scopeGiven = body.organizationId !== undefined || body.locationId !== undefined;
  const scopeField = body.organizationId !== undefined ? 'organizationId' : 'locationId';
  if (body.appId === undefined) {
    if (scopeGiven)
      throw invalid(scopeField, "a scope is given with an appId only (the operator's link for an app)");
    return undefined;
  }
  if (p.kind === 'api_key') {
    if (scopeGiven)
      throw invalid(scopeField, "a key's link keeps the key's own scope; only the operator names one");
    if (p.role === 'partner') {
      // a partner key's link is for its own app; another app does not exist for it
      if (body.appId !== p.appId) throw notFound(`app ${body.appId}`);
      return undefined;
    }
    const [visible] = await listApps(db, { scope: scopeFilter(p), id: body.appId });
    if (!visible) throw new AppError(404, 'not_found', `app ${body.appId} not found`, 'appId');
    return { appId: body.appId, organizationId: null, locationId: null };
  }
  if (!(await getApp(db, body.appId)))
    throw new AppError(404, 'not_found', `app ${body.appId} not found`, 'appId');
  if (body.organizationId !== undefined && body.locationId !== undefined)
    throw invalid('locationId', 'give one scope: organizationId or locationId', 'invalid_scope');
  if (body.locationId !== undefined) {
    if (!(await getLocation(db, body.locationId)))
      throw new AppError(404, 'not_found', `location ${body.locationId} not found`, 'locationId');
    return { appId: body.appId, organizationId: null, locationId: body.locationId };
  }
  if (body.organizationId === undefined)
    throw invalid(
      'organizationId',
      "the operator's link for a partner app names the scope it opens: organizationId or locationId",
      'invalid_scope',
    );
  if (!(await getOrganization(db, body.organizationId)))
    throw new AppError(404, 'not_found', `organization ${body.organizationId} not found`, 'organizationId');
  return { appId: body.appId, organizationId: body.organizationId, locationId: null };
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
    const app = await linkApp(db, p, body);
    const keyId = p.kind === 'api_key' ? p.keyId : null;
    const link = await db.transaction(async (tx) => {
      const made = await createPortalLink(tx, {
        keyId,
        linkMinutes: body.expiresInMinutes ?? LINK_MINUTES.default,
        sessionMinutes: body.sessionMinutes ?? SESSION_MINUTES.default,
        ...(app !== undefined ? { app } : {}),
      });
      await recordAudit(tx, req, {
        action: 'portal_link.created',
        targetType: p.kind === 'api_key' ? 'api_key' : 'operator_key',
        targetId: keyId ?? 'operator',
        ...(await auditScopeOfPrincipal(tx, p)),
        details: {
          ...(app !== undefined ? { appId: app.appId } : {}),
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
    const session = await db.transaction(async (tx) => {
      const opened = await exchangePortalLink(tx, req.body.token);
      // the one who opens a link acts for its maker: the entry is the maker's, from the opener's address
      await recordAudit(
        tx,
        req,
        {
          action: 'portal_session.opened',
          targetType: 'portal_session',
          targetId: opened.id,
          ...(await auditScopeOfPrincipal(tx, opened.principal)),
          details: { expiresAt: opened.expiresAt },
        },
        opened.principal,
      );
      return opened;
    });
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
    await db.transaction(async (tx) => {
      // signed out by another request meanwhile: that one recorded it
      if (!(await endPortalSession(tx, session.id))) return;
      await recordAudit(tx, req, {
        action: 'portal_session.ended',
        targetType: 'portal_session',
        targetId: session.id,
        ...(await auditScopeOfPrincipal(tx, req.principal)),
      });
    });
    return reply.status(204).send();
  });
}
