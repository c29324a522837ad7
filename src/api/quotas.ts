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
  const checks = [
    {
      name: 'subscriptionsPerOrganization',
      setting: 'FPT_SUBSCRIPTIONS_PER_ORGANIZATION',
      limit: quotas.subscriptionsPerOrganization,
      owner: `organization ${owner.organizationId}`,
      count: () => countOrganizationSubscriptions(tx, owner.organizationId),
    },
  ];
  const appId = owner.appId;
  if (appId !== undefined && appId !== null) {
    checks.push({
      name: 'subscriptionsPerApp',
      setting: 'FPT_SUBSCRIPTIONS_PER_APP',
      limit: quotas.subscriptionsPerApp,
      owner: `app ${appId}`,
      count: () => countAppSubscriptions(tx, appId),
    });
  }
  for (const c of checks) {
    await lockQuota(tx, `subscriptions:${c.owner}`);
    const n = await c.count();
    if (n >= c.limit) {
      throw quotaExceeded(c.name, `${c.setting}=${c.limit}`, `${c.owner} has ${n} subscriptions`);
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
