import type { DeliverySettings } from '../config.js';
import { RateMeter } from './rate-meter.js';
import type { FairScheduler } from './scheduler.js';

/**
 * Chains claimed ahead of the sending capacity, per subscription and per process, as a multiple of
 * the caps on requests in flight: a queue that is refilled by one claim of many chains while the
 * previous ones are still being sent, so the endpoint never waits for the database.
 */
const PREFETCH = 2;
/**
 * A subscription whose endpoint keeps up may hold more: as many chains as it completed in this
 * many seconds at its recent rate, so that a fast endpoint is fed from the closer's hand-off
 * instead of by claims, while a queued chain still goes out within `MAX_QUEUE_WAIT_MS` (half of
 * it). (At 5 s, the pace of a burst's first second, measured while the pipeline was starting, was
 * so low that half of a 20,000-contact burst missed the hand-off and cost a claim each.)
 */
const PREFETCH_SECONDS = 15;
/**
 * Chains a worker may hold for a subscription whose pace it has not seen yet: three of the
 * closer's batches, so that a burst's first second is handed over too. If the endpoint turns out
 * slow, what it cannot take within `MAX_QUEUE_WAIT_MS` goes back to the table.
 */
const FIRST_CAPACITY = 6000;
/** Chains one worker holds at most (in flight and queued), whatever the rates: a memory bound. */
export const MAX_HELD_CHAINS = 20_000;
/**
 * The share of what a worker holds that one organization may fill: the rest stays free for the
 * others, so that a tenant's backlog can never leave the worker without room to take another
 * tenant's deliveries from the closer or a claim.
 */
const ORGANIZATION_HOLD_SHARE = 0.75;

/**
 * How many chains a worker holds ahead of sending (in flight and queued), per subscription, per
 * organization and in all: what the closer's hand-off and the claims may give it.
 */
export class Capacity {
  /** chains completed per second, per subscription, recently */
  private readonly rates = new Map<string, RateMeter>();

  constructor(
    private readonly s: Pick<DeliverySettings, 'concurrency' | 'perSubscription'>,
    /** the only worker on its store: it competes with nobody for deliveries */
    private readonly alone: boolean,
    private readonly scheduler: FairScheduler<unknown>,
  ) {}

  /** A chain of the subscription completed (its pace is measured from these). */
  completed(sub: string): void {
    let rate = this.rates.get(sub);
    if (!rate) this.rates.set(sub, (rate = new RateMeter()));
    rate.hit(performance.now());
  }

  /** Subscriptions whose pace this worker has measured. */
  measured(): IterableIterator<string> {
    return this.rates.keys();
  }

  /** When a chain of the subscription last completed (performance.now()), if it is measured. */
  lastCompletedAt(sub: string): number | undefined {
    return this.rates.get(sub)?.lastHitAt;
  }

  /** Drops the subscription's measured pace: it is learned again if it has work again. */
  forget(sub: string): boolean {
    return this.rates.delete(sub);
  }

  /** Subscriptions this worker holds chains of or has measured. */
  known(): string[] {
    return [...new Set([...this.scheduler.subscriptions(), ...this.rates.keys()])];
  }

  /** Chains of one subscription this worker may hold (in flight and queued). */
  of(sub: string): number {
    // an endpoint that stopped answering holds what its shrunk cap can send, whatever its pace was
    if (this.scheduler.isThrottled(sub)) return this.scheduler.capOf(sub) * (1 + PREFETCH);
    // (an endpoint whose first second is still being measured is not seen yet: taking its pace as
    // zero cut its share to the in-flight caps in the middle of a burst, and the closer, finding no
    // room, wrote nearly all of the burst for claims instead of handing it over)
    const rate = this.alone ? undefined : this.rates.get(sub)?.perSecond(performance.now());
    if (rate === undefined) return this.unseen();
    const fixed = this.s.perSubscription * (1 + PREFETCH);
    return Math.min(MAX_HELD_CHAINS, Math.max(fixed, Math.floor(rate * PREFETCH_SECONDS)));
  }

  /** What a subscription not seen yet may hold (the benefit of the doubt; its pace soon decides), or any one when alone. */
  unseen(): number {
    // alone on its store, the worker competes with nobody for deliveries: it takes all it may hold
    if (this.alone) return MAX_HELD_CHAINS;
    return Math.max(this.s.perSubscription * (1 + PREFETCH), FIRST_CAPACITY);
  }

  /** Chains of one subscription this worker has room to take on (to send or to queue). */
  roomFor(sub: string): number {
    return this.of(sub) - this.scheduler.heldBy(sub);
  }

  /** Chains this worker holds at most, in all. */
  get max(): number {
    return Math.max(this.s.concurrency * (1 + PREFETCH), MAX_HELD_CHAINS);
  }

  /** Chains one organization may hold at most. */
  get perOrganization(): number {
    return Math.floor(this.max * ORGANIZATION_HOLD_SHARE);
  }

  /** Chains of one organization this worker has room to take on. */
  roomForOrganization(org: number): number {
    return this.perOrganization - this.scheduler.heldByOrganization(org);
  }

  /** Chains this worker has room to take on, in all. */
  room(): number {
    return this.max - this.scheduler.inFlight - this.scheduler.queued;
  }
}
