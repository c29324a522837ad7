import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { checkUrl, UrlRefused } from '../../delivery/ssrf.js';
import { SecretBox } from '../../delivery/secret-box.js';
import { generateSecret } from '../../delivery/signing.js';
import { EVENT_CATALOG, EVENT_TYPES, type ContactEvent, type EventType } from '../../domain/events.js';
import { newEventId } from '../../domain/ids.js';
import { forbidden, invalid, notFound, AppError, conflict } from '../../errors.js';
import {
  getDelivery,
  insertTestDelivery,
  listDeliveries,
  parkInactive,
  replay,
  unpark,
  retryDelivery,
  type DeliveryStatus,
} from '../../store/deliveries.js';
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
import { listLocations } from '../../store/tenants.js';
import { scopeFilter } from '../../domain/principal.js';
import { auditDeliveryRetry, auditSubscription, auditSubscriptionChange } from '../audit-subscriptions.js';
import { visibleLocation, type ApiDeps } from '../context.js';
import { enforceReplayBound, enforceSubscriptionQuota } from '../quotas.js';

const EventTypeSchema = Type.Unsafe<EventType>({ type: 'string', enum: [...EVENT_TYPES] });
const EventTypes = Type.Unsafe<EventType[] | null>({
  type: ['array', 'null'],
  items: EventTypeSchema,
  minItems: 1,
  uniqueItems: true,
});
const Url = Type.String({ minLength: 1, maxLength: 2048 });
const Description = Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 500 });

const CreateBody = Type.Object(
  {
    url: Url,
    eventTypes: Type.Optional(EventTypes),
    locationId: Type.Optional(Type.Integer({ minimum: 1 })),
    organizationId: Type.Optional(Type.Integer({ minimum: 1 })),
    description: Type.Optional(Description),
  },
  { additionalProperties: false },
);

const PatchBody = Type.Object(
  {
    url: Type.Optional(Url),
    eventTypes: Type.Optional(EventTypes),
    description: Type.Optional(Description),
    status: Type.Optional(Type.Unsafe<'active' | 'paused'>({ type: 'string', enum: ['active', 'paused'] })),
  },
  { additionalProperties: false },
);

const SubParams = Type.Object({ id: Type.String({ pattern: '^sub_[0-9a-f]{32}$' }) });
const DeliveryParams = Type.Object({ id: Type.String({ pattern: '^dlv_[0-9a-f]{32}$' }) });
const StatusSchema = Type.Unsafe<DeliveryStatus>({
  type: 'string',
  enum: ['pending', 'sending', 'succeeded', 'failed'],
});
const DeliveriesQuery = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    before: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  },
  { additionalProperties: false },
);
const ReplayBody = Type.Object(
  {
    since: Type.String({ format: 'date-time' }),
    status: Type.Optional(
      Type.Unsafe<'failed' | 'succeeded'>({ type: 'string', enum: ['failed', 'succeeded'] }),
    ),
  },
  { additionalProperties: false },
);
const RotateBody = Type.Union([
  Type.Null(),
  Type.Object(
    { overlapHours: Type.Optional(Type.Integer({ minimum: 0, maximum: 720 })) },
    { additionalProperties: false },
  ),
]);
const TestBody = Type.Union([
  Type.Null(),
  Type.Object({ eventType: Type.Optional(EventTypeSchema) }, { additionalProperties: false }),
]);

/** The contact id of every test event: never a real contact (ids count up from 1). */
export const TEST_CONTACT_ID = Number.MAX_SAFE_INTEGER;

const scopeOf = (req: FastifyRequest) => scopeFilter(req.principal);

function urlOrThrow(url: string, allowPrivate: boolean): string {
  try {
    return checkUrl(url, { allowPrivate }).toString();
  } catch (err) {
    if (err instanceof UrlRefused) throw invalid('url', err.reason, 'invalid_url');
    throw err;
  }
}

async function visibleSubscription(
  q: Queryable,
  req: FastifyRequest,
  id: string,
  forUpdate = false,
): Promise<Subscription> {
  const sub = await getSubscription(q, id, scopeOf(req), { forUpdate });
  if (!sub) throw notFound(`subscription ${id}`);
  return sub;
}

/** Subscriptions and their deliveries: both roles manage them, within their scope. */
export function subscriptionRoutes(root: FastifyInstance, { db, config }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const allowPrivate = config.delivery.allowPrivateUrls;
  // a new secret is shown once, in clear, and stored sealed when FPT_SECRETS_KEY is set
  const box = config.delivery.secretsKeys ? new SecretBox(config.delivery.secretsKeys) : undefined;
  const stored = (secret: string) => (box ? box.seal(secret) : secret);

  app.post('/api/subscriptions', { schema: { body: CreateBody } }, async (req, reply) => {
    const b = req.body;
    const p = req.principal;
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
    const secret = generateSecret();
    const url = urlOrThrow(b.url, allowPrivate);
    const sub = await db.transaction(async (tx) => {
      await enforceSubscriptionQuota(tx, config.quotas, { organizationId });
      const created = await createSubscription(tx, {
        url,
        eventTypes: b.eventTypes ?? null,
        locationId,
        organizationId,
        description: b.description ?? null,
        secret: stored(secret),
      });
      await auditSubscription(tx, req, 'subscription.created', created, { url: created.url });
      return created;
    });
    return reply.status(201).send({ ...sub, secret });
  });

  app.get('/api/subscriptions', async (req) => ({ data: await listSubscriptions(db, scopeOf(req)) }));

  app.get('/api/subscriptions/:id', { schema: { params: SubParams } }, async (req) =>
    visibleSubscription(db, req, req.params.id),
  );

  app.patch('/api/subscriptions/:id', { schema: { params: SubParams, body: PatchBody } }, async (req) => {
    const b = req.body;
    return db.transaction(async (tx) => {
      const before = await visibleSubscription(tx, req, req.params.id, true);
      const sub = await updateSubscription(tx, req.params.id, {
        ...(b.url !== undefined ? { url: urlOrThrow(b.url, allowPrivate) } : {}),
        ...('eventTypes' in b ? { eventTypes: b.eventTypes ?? null } : {}),
        ...('description' in b ? { description: b.description ?? null } : {}),
        ...(b.status !== undefined ? { status: b.status } : {}),
      });
      // pausing parks the waiting deliveries; resuming releases them
      if (sub.status === 'active') {
        if ((await unpark(tx, sub.id)) > 0) await tx.notify('deliveries');
      } else await parkInactive(tx, [sub.id]);
      await auditSubscriptionChange(tx, req, before, sub);
      return sub;
    });
  });

  app.delete('/api/subscriptions/:id', { schema: { params: SubParams } }, async (req, reply) => {
    await db.transaction(async (tx) => {
      const sub = await visibleSubscription(tx, req, req.params.id, true);
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
        const sub = await visibleSubscription(tx, req, req.params.id, true);
        const rotated = await rotateSecret(tx, req.params.id, stored(secret), overlapMs);
        await auditSubscription(tx, req, 'subscription.secret_rotated', sub, rotated);
        return rotated;
      });
      return { secret, previousSecretExpiresAt };
    },
  );

  app.post(
    '/api/subscriptions/:id/test',
    { schema: { params: SubParams, body: TestBody } },
    async (req, reply) => {
      const sub = await visibleSubscription(db, req, req.params.id);
      const type = req.body?.eventType ?? 'contact.updated';
      const example = EVENT_CATALOG.find((e) => e.type === type)!.example;
      const locationId =
        sub.locationId ??
        (await listLocations(db, { organizationId: sub.organizationId, locationId: null }))[0]?.id;
      if (locationId === undefined)
        throw conflict('the organization has no location to send a test event for');
      const envelope = {
        ...example,
        eventId: newEventId(),
        eventTimestamp: new Date().toISOString(),
        locationId,
        organizationId: sub.organizationId,
        data: { ...example.data, contactId: TEST_CONTACT_ID },
      } as ContactEvent;
      const deliveryId = await db.transaction(async (tx) => {
        const id = await insertTestDelivery(tx, sub.id, envelope);
        await tx.notify('deliveries');
        return id;
      });
      return reply.status(202).send({ deliveryId, event: envelope });
    },
  );

  app.get(
    '/api/subscriptions/:id/deliveries',
    { schema: { params: SubParams, querystring: DeliveriesQuery } },
    async (req) => {
      await visibleSubscription(db, req, req.params.id);
      const q = req.query;
      return listDeliveries(db, req.params.id, {
        status: q.status,
        before: q.before === undefined ? undefined : Number(q.before),
        limit: q.limit ?? 50,
      });
    },
  );

  app.post(
    '/api/subscriptions/:id/replay',
    { schema: { params: SubParams, body: ReplayBody } },
    async (req, reply) => {
      const since = new Date(req.body.since);
      const status = req.body.status;
      const result = await db.transaction(async (tx) => {
        const sub = await visibleSubscription(tx, req, req.params.id, true);
        await enforceReplayBound(tx, config.quotas, { subscriptionId: sub.id, since, status });
        const r = await replay(tx, req.params.id, since, status);
        if (r.requeued + r.created > 0) await tx.notify('deliveries');
        await auditSubscription(tx, req, 'subscription.replayed', sub, {
          since: since.toISOString(),
          status: status ?? null,
          ...r,
        });
        return r;
      });
      return reply.status(202).send({ queued: result.requeued + result.created, ...result });
    },
  );

  app.get('/api/deliveries/:id', { schema: { params: DeliveryParams } }, async (req) => {
    const d = await getDelivery(db, req.params.id);
    if (!d || !(await getSubscription(db, d.subscriptionId, scopeOf(req))))
      throw notFound(`delivery ${req.params.id}`);
    return d;
  });

  app.post('/api/deliveries/:id/retry', { schema: { params: DeliveryParams } }, async (req, reply) => {
    const d = await getDelivery(db, req.params.id);
    if (!d || !(await getSubscription(db, d.subscriptionId, scopeOf(req))))
      throw notFound(`delivery ${req.params.id}`);
    const queued = await db.transaction(async (tx) => {
      const ok = await retryDelivery(tx, d.id);
      if (ok) await tx.notify('deliveries');
      if (ok) await auditDeliveryRetry(tx, req, d);
      return ok;
    });
    if (!queued) throw conflict('the delivery is being sent right now');
    return reply.status(202).send(await getDelivery(db, d.id));
  });
}
