import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { checkUrl, UrlRefused } from '../../delivery/ssrf.js';
import { SecretBox } from '../../delivery/secret-box.js';
import { generateSecret } from '../../delivery/signing.js';
import { EVENT_TYPES, type EventType } from '../../domain/events.js';
import {
  disablerOf,
  requireSubscriptionAction,
  subscriptionFilter,
  type SubscriptionAction,
} from '../../domain/ownership.js';
import { forbidden, invalid, notFound, AppError } from '../../errors.js';
import { getApp } from '../../store/apps.js';
import { parkInactive, unpark } from '../../store/deliveries/park.js';
import type { Queryable } from '../../store/db.js';
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  rotateSecret,
  updateSubscription,
  type Subscription,
} from '../../store/subscriptions.js';
import { getOrganization } from '../../store/tenants.js';
import { auditSubscription, auditSubscriptionChange } from '../audit-subscriptions.js';
import { visibleLocation, type ApiDeps } from '../context.js';
import { enforceSubscriptionQuota } from '../quotas.js';
import { AppIdSchema, Id } from '../schemas.js';

export const EventTypeSchema = Type.Unsafe<EventType>({ type: 'string', enum: [...EVENT_TYPES] });
const EventTypes = Type.Unsafe<EventType[] | null>({
  type: ['array', 'null'],
  items: EventTypeSchema,
  minItems: 1,
  uniqueItems: true,
});
const Url = Type.String({ minLength: 1, maxLength: 2048 });
const Description = Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 500 });
const OwnerAppId = Type.Unsafe<string | null>({ ...AppIdSchema, type: ['string', 'null'] });

const CreateBody = Type.Object(
  {
    url: Url,
    eventTypes: Type.Optional(EventTypes),
    locationId: Type.Optional(Id),
    organizationId: Type.Optional(Id),
    description: Type.Optional(Description),
    /** the operator creates a subscription for an app (a partner key's are its app's) */
    appId: Type.Optional(OwnerAppId),
  },
  { additionalProperties: false },
);

const PatchBody = Type.Object(
  {
    url: Type.Optional(Url),
    eventTypes: Type.Optional(EventTypes),
    description: Type.Optional(Description),
    status: Type.Optional(
      Type.Unsafe<'active' | 'paused' | 'disabled'>({
        type: 'string',
        enum: ['active', 'paused', 'disabled'],
      }),
    ),
    /** the operator moves a subscription to an app, or to the gym (null) */
    appId: Type.Optional(OwnerAppId),
  },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  { appId: Type.Optional(Type.Union([AppIdSchema, Type.Literal('none')])) },
  { additionalProperties: false },
);

export const SubParams = Type.Object({ id: Type.String({ pattern: '^sub_[0-9a-f]{32}$' }) });
const RotateBody = Type.Union([
  Type.Null(),
  Type.Object(
    { overlapHours: Type.Optional(Type.Integer({ minimum: 0, maximum: 720 })) },
    { additionalProperties: false },
  ),
]);

function urlOrThrow(url: string, allowPrivate: boolean): string {
  try {
    return checkUrl(url, { allowPrivate }).toString();
  } catch (err) {
    if (err instanceof UrlRefused) throw invalid('url', err.reason, 'invalid_url');
    throw err;
  }
}

/**
 * The subscription, if it exists for the caller (its scope, and for a partner key its app: 404
 * otherwise, never a hint that it exists), and the caller may take `action` on it (403 otherwise).
 */
export async function visibleSubscription(
  q: Queryable,
  req: FastifyRequest,
  id: string,
  action: SubscriptionAction,
  opts: { forUpdate?: boolean; newStatus?: 'active' | 'paused' | 'disabled' } = {},
): Promise<Subscription> {
  const sub = await getSubscription(q, id, subscriptionFilter(req.principal), opts);
  if (!sub) throw notFound(`subscription ${id}`);
  requireSubscriptionAction(req.principal, sub, action, opts.newStatus);
  return sub;
}

/** An app given as a subscription's owner: the operator's to choose, and it must exist. */
async function ownerApp(q: Queryable, req: FastifyRequest, appId: string | null): Promise<string | null> {
  if (req.principal.kind !== 'operator')
    throw forbidden("only the operator sets a subscription's app; a partner key's are its own app's");
  if (appId !== null && !(await getApp(q, appId)))
    throw new AppError(404, 'not_found', `app ${appId} not found`, 'appId');
  return appId;
}

/** Subscriptions: both roles manage them, within their scope and as their ownership allows. */
export function subscriptionRoutes(root: FastifyInstance, { db, config }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const allowPrivate = config.delivery.allowPrivateUrls;
  // a new secret is shown once, in clear, and stored sealed for its subscription when a key is set
  const box = config.delivery.secretsKeys ? new SecretBox(config.delivery.secretsKeys) : undefined;
  const stored = (secret: string) => (subscriptionId: string) =>
    box ? box.seal(secret, subscriptionId) : secret;

  app.post('/api/subscriptions', { schema: { body: CreateBody } }, async (req, reply) => {
    const b = req.body;
    const p = req.principal;
    if (p.kind === 'api_key' && p.limitedBy === 'staff')
      throw forbidden(
        "this portal session was opened by a staff key for a partner app: the app's subscriptions are made with the app's keys",
      );
    if (b.locationId !== undefined && b.organizationId !== undefined) {
      throw invalid('locationId', 'give one scope: locationId or organizationId', 'invalid_scope');
    }
    let locationId: number | null;
    let organizationId: number;
    if (b.locationId !== undefined) {
      const loc = await visibleLocation(db, req, b.locationId, 'locationId');
      locationId = loc.id;
      organizationId = loc.organizationId;
    } else if (b.organizationId !== undefined) {
      if (p.kind === 'api_key' && p.locationId !== null) {
        throw forbidden('only an organization-level key may create an organization-scoped subscription');
      }
      if (p.kind === 'api_key' && p.organizationId !== b.organizationId) {
        throw new AppError(404, 'not_found', `organization ${b.organizationId} not found`, 'organizationId');
      }
      // the operator's subscription starts receiving at once: the organization must exist
      if (!(await getOrganization(db, b.organizationId))) {
        throw new AppError(404, 'not_found', `organization ${b.organizationId} not found`, 'organizationId');
      }
      locationId = null;
      organizationId = b.organizationId;
    } else if (p.kind === 'api_key') {
      // no scope given: the key's own
      locationId = p.locationId;
      organizationId =
        p.locationId !== null
          ? (await visibleLocation(db, req, p.locationId)).organizationId
          : p.organizationId!;
    } else {
      throw invalid('locationId', 'the operator key must give locationId or organizationId', 'invalid_scope');
    }
    // a partner key's subscription is its app's; a staff key's the gym's; the operator chooses
    let appId: string | null = p.kind === 'api_key' ? p.appId : null;
    if (b.appId !== undefined && !(p.kind === 'api_key' && b.appId === p.appId)) {
      appId = await ownerApp(db, req, b.appId);
    }
    const secret = generateSecret();
    const url = urlOrThrow(b.url, allowPrivate);
    const sub = await db.transaction(async (tx) => {
      await enforceSubscriptionQuota(tx, config.quotas, { organizationId, appId });
      const created = await createSubscription(tx, {
        url,
        eventTypes: b.eventTypes ?? null,
        locationId,
        organizationId,
        description: b.description ?? null,
        secret: stored(secret),
        appId,
        createdByKeyId: p.kind === 'api_key' ? p.keyId : null,
      });
      await auditSubscription(tx, req, 'subscription.created', created, { url: created.url });
      return created;
    });
    return reply.status(201).send({ ...sub, secret });
  });

  app.get('/api/subscriptions', { schema: { querystring: ListQuery } }, async (req) => {
    const { appId } = req.query;
    const filter = appId === undefined ? {} : { appId: appId === 'none' ? null : appId };
    return { data: await listSubscriptions(db, subscriptionFilter(req.principal), filter) };
  });

  app.get('/api/subscriptions/:id', { schema: { params: SubParams } }, async (req) =>
    visibleSubscription(db, req, req.params.id, 'read'),
  );

  app.patch('/api/subscriptions/:id', { schema: { params: SubParams, body: PatchBody } }, async (req) => {
    const b = req.body;
    const p = req.principal;
    return db.transaction(async (tx) => {
      const before = await visibleSubscription(tx, req, req.params.id, 'read', { forUpdate: true });
      if (b.url !== undefined || 'eventTypes' in b || 'description' in b)
        requireSubscriptionAction(p, before, 'manage');
      if (b.status !== undefined) requireSubscriptionAction(p, before, 'status', b.status);
      const appId = b.appId === undefined ? undefined : await ownerApp(tx, req, b.appId);
      const sub = await updateSubscription(tx, req.params.id, {
        ...(b.url !== undefined ? { url: urlOrThrow(b.url, allowPrivate) } : {}),
        ...('eventTypes' in b ? { eventTypes: b.eventTypes ?? null } : {}),
        ...('description' in b ? { description: b.description ?? null } : {}),
        ...(b.status === 'disabled'
          ? { status: { to: 'disabled' as const, by: disablerOf(p) } }
          : b.status !== undefined
            ? { status: { to: b.status } }
            : {}),
        ...(appId !== undefined ? { appId } : {}),
      });
      // pausing or disabling parks the waiting deliveries; resuming releases them
      if (sub.status === 'active') {
        if ((await unpark(tx, sub.id)) > 0) await tx.notify('deliveries');
      } else await parkInactive(tx, [sub.id]);
      await auditSubscriptionChange(tx, req, before, sub);
      return sub;
    });
  });

  app.delete('/api/subscriptions/:id', { schema: { params: SubParams } }, async (req, reply) => {
    await db.transaction(async (tx) => {
      const sub = await visibleSubscription(tx, req, req.params.id, 'manage');
      await deleteSubscription(tx, req.params.id);
      await auditSubscription(tx, req, 'subscription.deleted', sub, { url: sub.url });
    });
    return reply.status(204).send();
  });

  app.post(
    '/api/subscriptions/:id/rotate-secret',
    { schema: { params: SubParams, body: RotateBody } },
    async (req) => {
      const secret = generateSecret();
      const overlapMs =
        req.body?.overlapHours !== undefined
          ? req.body.overlapHours * 3_600_000
          : config.delivery.secretOverlapMs;
      const { previousSecretExpiresAt } = await db.transaction(async (tx) => {
        const sub = await visibleSubscription(tx, req, req.params.id, 'manage');
        const rotated = await rotateSecret(tx, req.params.id, stored(secret)(req.params.id), overlapMs);
        await auditSubscription(tx, req, 'subscription.secret_rotated', sub, rotated);
        return rotated;
      });
      return { secret, previousSecretExpiresAt };
    },
  );
}
