import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../store/db.js';
import { getSubscription, type Subscription } from '../store/subscriptions.js';
import { recordAudit } from './audit.js';

type SubscriptionRef = Pick<Subscription, 'id' | 'organizationId' | 'locationId'>;

/** Records an action on a subscription, in its scope. */
export function auditSubscription(
  tx: Queryable,
  req: FastifyRequest,
  action: string,
  sub: SubscriptionRef,
  details: Record<string, unknown> = {},
): Promise<void> {
  return recordAudit(tx, req, {
    action,
    targetType: 'subscription',
    targetId: sub.id,
    organizationId: sub.organizationId,
    locationId: sub.locationId,
    details,
  });
}

/**
 * Records a PATCH of a subscription: `subscription.updated` with what changed (old and new URL,
 * event types, description, owning app), and `subscription.paused`, `subscription.disabled` or
 * `subscription.resumed` when its status changed.
 */
export async function auditSubscriptionChange(
  tx: Queryable,
  req: FastifyRequest,
  before: Subscription,
  after: Subscription,
): Promise<void> {
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  if (before.url !== after.url) changed.url = { from: before.url, to: after.url };
  if (JSON.stringify(before.eventTypes) !== JSON.stringify(after.eventTypes)) {
    changed.eventTypes = { from: before.eventTypes, to: after.eventTypes };
  }
  if (before.description !== after.description) {
    changed.description = { from: before.description, to: after.description };
  }
  if (before.appId !== after.appId) changed.appId = { from: before.appId, to: after.appId };
  if (Object.keys(changed).length > 0)
    await auditSubscription(tx, req, 'subscription.updated', after, changed);
  if (before.status !== after.status) {
    const action =
      after.status === 'paused'
        ? 'subscription.paused'
        : after.status === 'disabled'
          ? 'subscription.disabled'
          : 'subscription.resumed';
    await auditSubscription(tx, req, action, after, { from: before.status, to: after.status });
  }
}

/** Records a delivery sent again by hand, in its subscription's scope. */
export async function auditDeliveryRetry(
  tx: Queryable,
  req: FastifyRequest,
  delivery: { id: string; subscriptionId: string },
): Promise<void> {
  const sub = await getSubscription(tx, delivery.subscriptionId, {
    organizationId: null,
    locationId: null,
    ownApp: undefined,
  });
  await recordAudit(tx, req, {
    action: 'delivery.retried',
    targetType: 'delivery',
    targetId: delivery.id,
    organizationId: sub?.organizationId ?? null,
    locationId: sub?.locationId ?? null,
    details: { subscriptionId: delivery.subscriptionId },
  });
}
