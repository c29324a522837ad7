import type { QuotaSettings } from '../config.js';
import { AppError } from '../errors.js';
import type { Tx } from '../store/db.js';
import {
  countAppSubscriptions,
  countOrganizationSubscriptions,
  countReplay,
  lockQuota,
} from '../store/quotas.js';

/** A quota reached: 409 `quota_exceeded`, the message naming the limit and its setting. */
export const quotaExceeded = (limit: string, setting: string, detail: string, field?: string): AppError =>
  new AppError(409, 'quota_exceeded', `quota ${limit} reached: ${detail} (the limit is ${setting})`, field);

/**
 * Refuses a new subscription when its organization (or its app) already holds as many as its quota
 * allows. Call it in the transaction that creates the subscription: it holds the quota's lock to
 * the end, so concurrent creations are counted one after the other.
 */
export async function enforceSubscriptionQuota(
  tx: Tx,
  quotas: QuotaSettings,
  owner: { organizationId: number; appId?: string | number | null },
): Promise<void> {
  await lockQuota(tx, `subscriptions:organization:${owner.organizationId}`);
  const inOrg = await countOrganizationSubscriptions(tx, owner.organizationId);
  if (inOrg >= quotas.subscriptionsPerOrganization) {
    throw quotaExceeded(
      'subscriptionsPerOrganization',
      `FPT_SUBSCRIPTIONS_PER_ORGANIZATION=${quotas.subscriptionsPerOrganization}`,
      `organization ${owner.organizationId} has ${inOrg} subscriptions`,
    );
  }
  if (owner.appId !== undefined && owner.appId !== null) {
    await lockQuota(tx, `subscriptions:app:${owner.appId}`);
    const inApp = await countAppSubscriptions(tx, owner.appId);
    if (inApp >= quotas.subscriptionsPerApp) {
      throw quotaExceeded(
        'subscriptionsPerApp',
        `FPT_SUBSCRIPTIONS_PER_APP=${quotas.subscriptionsPerApp}`,
        `app ${owner.appId} has ${inApp} subscriptions`,
      );
    }
  }
}

/** Refuses a replay that would queue more deliveries than `FPT_REPLAY_MAX_DELIVERIES`. */
export async function enforceReplayBound(
  tx: Tx,
  quotas: QuotaSettings,
  replay: { subscriptionId: string; since: Date; status: 'failed' | 'succeeded' | undefined },
): Promise<void> {
  const max = quotas.replayMaxDeliveries;
  const n = await countReplay(tx, replay.subscriptionId, replay.since, replay.status, max);
  if (n > max) {
    throw new AppError(
      422,
      'quota_exceeded',
      `quota replayMaxDeliveries reached: this replay would queue more than ${max} deliveries (the limit is FPT_REPLAY_MAX_DELIVERIES=${max}); replay a shorter period (a later since) or by status`,
      'since',
    );
  }
}
