import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { EVENT_CATALOG, type ContactEvent } from '../../domain/events.js';
import { newEventId } from '../../domain/ids.js';
import { requireSubscriptionAction, subscriptionFilter } from '../../domain/ownership.js';
import { conflict, invalid, notFound } from '../../errors.js';
import { readInOneSnapshot } from '../../store/db.js';
import type { DeliveryStatus } from '../../store/deliveries/queue.js';
import { getDelivery, listDeliveries, type DeliveryView } from '../../store/deliveries/read.js';
import { replay } from '../../store/deliveries/replay.js';
import { insertTestDelivery, retryDelivery } from '../../store/deliveries/requeue.js';
import { deliverySent } from '../../store/deliveries/attempts-sent.js';
import { requestOf } from '../../delivery/attempt.js';
import { deliveryInLine } from '../../store/deliveries/waiting.js';
import { getSubscription } from '../../store/subscriptions.js';
import { listLocations } from '../../store/tenants.js';
import { auditDeliveryRetry, auditSubscription } from '../audit-subscriptions.js';
import type { ApiDeps } from '../context.js';
import { enforceReplayBound } from '../quotas.js';
import { EventTypeSchema, SubParams, visibleSubscription } from './subscriptions.js';

const DeliveryParams = Type.Object({ id: Type.String({ pattern: '^dlv_[0-9a-f]{32}$' }) });
const StatusSchema = Type.Unsafe<DeliveryStatus>({
  type: 'string',
  enum: ['pending', 'sending', 'succeeded', 'failed'],
});
const DeliveriesQuery = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    eventType: Type.Optional(EventTypeSchema),
    contactId: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
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
const TestBody = Type.Union([
  Type.Null(),
  Type.Object({ eventType: Type.Optional(EventTypeSchema) }, { additionalProperties: false }),
]);

/** The contact id of every test event: never a real contact (ids count up from 1). */
export const TEST_CONTACT_ID = Number.MAX_SAFE_INTEGER;

/**
 * `d` (read by `id`), if its subscription exists for the caller (404 otherwise) and allows `action`.
 */
async function visible<D extends { subscriptionId: string }>(
  deps: ApiDeps,
  req: FastifyRequest,
  id: string,
  d: D | undefined,
  action: 'read' | 'manage',
): Promise<D> {
  const sub = d && (await getSubscription(deps.db, d.subscriptionId, subscriptionFilter(req.principal)));
  if (!d || !sub) throw notFound(`delivery ${id}`);
  requireSubscriptionAction(req.principal, sub, action);
  return d;
}

/** The delivery, if its subscription exists for the caller (404 otherwise) and allows `action`. */
async function visibleDelivery(
  deps: ApiDeps,
  req: FastifyRequest,
  id: string,
  action: 'read' | 'manage',
): Promise<DeliveryView> {
  return visible(deps, req, id, await readInOneSnapshot(deps.db, (q) => getDelivery(q, id)), action);
}

/**
 * A subscription's deliveries, their attempts, test events, retries and replays: what a key may
 * see and do follows its subscription's (`visibleSubscription`).
 */
export function subscriptionDeliveryRoutes(root: FastifyInstance, deps: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = deps;

  app.post(
    '/api/subscriptions/:id/test',
    { schema: { params: SubParams, body: TestBody } },
    async (req, reply) => {
      const sub = await visibleSubscription(db, req, req.params.id, 'manage');
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
        if (id === undefined) throw notFound(`subscription ${sub.id}`); // deleted since it was checked
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
      await visibleSubscription(db, req, req.params.id, 'read');
      const q = req.query;
      if (q.since !== undefined && q.until !== undefined && Date.parse(q.until) <= Date.parse(q.since)) {
        throw invalid('until', 'until must be later than since');
      }
      return readInOneSnapshot(db, (snapshot) =>
        listDeliveries(snapshot, req.params.id, {
          ...(q.status !== undefined ? { status: q.status } : {}),
          ...(q.eventType !== undefined ? { eventType: q.eventType } : {}),
          ...(q.contactId !== undefined ? { contactId: q.contactId } : {}),
          ...(q.since !== undefined ? { since: new Date(q.since) } : {}),
          ...(q.until !== undefined ? { until: new Date(q.until) } : {}),
          ...(q.before !== undefined ? { before: Number(q.before) } : {}),
          limit: q.limit ?? 50,
        }),
      );
    },
  );

  app.post(
    '/api/subscriptions/:id/replay',
    { schema: { params: SubParams, body: ReplayBody } },
    async (req, reply) => {
      const since = new Date(req.body.since);
      const status = req.body.status;
      const result = await db.transaction(async (tx) => {
        const sub = await visibleSubscription(tx, req, req.params.id, 'manage');
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
    return visibleDelivery(deps, req, req.params.id, 'read');
  });

  app.get('/api/deliveries/:id/attempts', { schema: { params: DeliveryParams } }, async (req) => {
    // the delivery and its attempts as of one moment, read once (its subscription is what a key may see)
    const id = req.params.id;
    const sent = await visible(
      deps,
      req,
      id,
      await readInOneSnapshot(db, (q) => deliverySent(q, id)),
      'read',
    );
    const data = sent.attempts.map((a) => {
      const { fptSignature: _fpt, webhookSignature: _standard, ...shown } = a;
      return { ...shown, request: requestOf(sent, a) };
    });
    return { data };
  });

  app.post('/api/deliveries/:id/retry', { schema: { params: DeliveryParams } }, async (req, reply) => {
    const d = await visibleDelivery(deps, req, req.params.id, 'manage');
    const retried = await db.transaction(async (tx) => {
      const result = await retryDelivery(tx, d.id);
      if (result === 'queued') {
        await tx.notify('deliveries');
        await auditDeliveryRetry(tx, req, d);
      }
      return result;
    });
    if (retried === 'sending') throw conflict('the delivery is being sent right now');
    if (retried === 'gone') throw notFound(`delivery ${d.id}`); // deleted with its subscription since it was checked
    // queued behind an earlier unfinished delivery of the same contact, it is sent after that one
    const queuedNow = await readInOneSnapshot(db, (q) => deliveryInLine(q, d.id));
    if (!queuedNow) throw notFound(`delivery ${d.id}`); // deleted with its subscription meanwhile
    return reply.status(202).send(queuedNow);
  });
}
