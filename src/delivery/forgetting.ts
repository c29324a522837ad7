import type { Queryable } from '../store/db.js';
import { activeSubscriptionIds } from '../store/active-subscriptions.js';
import type { Capacity } from './capacity.js';
import type { OutcomeBatcher } from './outcomes.js';
import type { FairScheduler } from './scheduler.js';

/**
 * A subscription a worker has had no chain of for this long has its measured pace and noted
 * success forgotten: its pace is learned again from its next chains (the first ones are given the
 * benefit of the doubt, see `Capacity.unseen`), and its next success is written at once.
 */
export const FORGET_IDLE_MS = 3_600_000;
/** How often a worker looks for what to forget. */
export const FORGET_EVERY_MS = 300_000;

/** What a worker keeps per subscription, beyond the chains it holds. */
export interface PerSubscriptionState {
  capacity: Capacity;
  scheduler: FairScheduler<unknown>;
  outcomes: OutcomeBatcher;
}

/**
 * Forgets what the worker keeps for subscriptions it holds no chain of and that are gone (deleted),
 * disabled or paused: everything (a paused one learns its endpoint again when resumed). For active
 * ones idle for `idleMs`: their pace and success mark, but not an adapted cap on requests in
 * flight, which is kept while the subscription is active (an endpoint that stopped answering is
 * retried hours apart, and its next wave must not go out at the full cap). So what a worker keeps
 * is bounded by the store's active subscriptions, not by every subscription it ever sent for.
 * Answers how many subscriptions had something forgotten.
 */
export async function forgetSubscriptions(
  db: Queryable,
  { capacity, scheduler, outcomes }: PerSubscriptionState,
  idleMs: number,
): Promise<number> {
  const known = new Set([...capacity.measured(), ...scheduler.throttled(), ...outcomes.noted()]);
  for (const id of scheduler.subscriptions()) known.delete(id);
  if (known.size === 0) return 0;
  const active = await activeSubscriptionIds(db, [...known]);
  const now = performance.now();
  let forgotten = 0;
  for (const id of known) {
    // (it may have been given chains while the statement ran)
    if (scheduler.heldBy(id) > 0) continue;
    const last = capacity.lastCompletedAt(id);
    const gone = !active.has(id);
    if (!gone && last !== undefined && now - last < idleMs) continue;
    const paceDropped = capacity.forget(id);
    const successDropped = outcomes.forget(id);
    const capDropped = gone && scheduler.forgetCap(id);
    if (paceDropped || successDropped || capDropped) forgotten++;
  }
  return forgotten;
}
