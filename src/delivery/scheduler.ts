import { Fifo } from './fifo.js';

/** The caps the scheduler shares a process's request slots within. */
export interface SchedulerLimits {
  /** requests in flight per process */
  concurrency: number;
  /** requests in flight per process for one organization, whatever its share */
  perOrganization: number;
  /** requests in flight per process to one subscription, at most (its adaptive cap grows up to it) */
  perSubscription: number;
}

/**
 * How a request to an endpoint went, as far as its concurrency goes: it answered (any status: the
 * endpoint is there and frees its slot), or it did not (timed out, or refused or dropped the
 * connection: every request sent there holds its slot for as long as the timeout).
 */
export type Answer = 'answered' | 'unanswered';

/** An item taken to start, with the tenant it counts against. */
export interface Started<T> {
  organizationId: number;
  subscriptionId: string;
  item: T;
}

interface SubState<T> {
  organizationId: number;
  queue: Fifo<T>;
  inFlight: number;
}

interface OrgState {
  inFlight: number;
  queued: number;
  /** its subscriptions with queued items, served in turn from `cursor` */
  ready: string[];
  cursor: number;
}

/**
 * Which queued work gets a process's request slots: fair between organizations, then between the
 * subscriptions of an organization, whatever order the work arrived in.
 *
 * Organizations with queued work take turns (round-robin, which is deficit round-robin with every
 * item costing one slot and every organization the same quantum), and within an organization its
 * subscriptions take turns the same way. A turn is skipped when the organization is at its cap
 * (`perOrganization`) or none of its ready subscriptions is under its own cap. While another
 * organization with startable work holds less than its fair share of the slots (`concurrency`
 * divided by the organizations holding or waiting for slots), an organization at or above its
 * share is skipped too; with nobody else waiting, it may use the idle slots up to its cap (work
 * conserving). A request in flight is never taken back, but every slot that frees goes to
 * whoever is furthest below its share.
 *
 * A subscription's own cap adapts to its endpoint (AIMD): each unanswered request (timeout,
 * connection refused or reset) halves it, down to 1; each answer raises it by one, up to
 * `perSubscription`. An endpoint that never answers thus holds one slot, not `perSubscription`,
 * and still gets its attempt, one at a time, so its deliveries follow their retry schedule.
 */
export class FairScheduler<T> {
  private readonly subs = new Map<string, SubState<T>>();
  private readonly orgs = new Map<number, OrgState>();
  /** organizations with queued items, served in turn from `cursor` */
  private readonly ready: number[] = [];
  private cursor = 0;
  /** adaptive caps below `perSubscription` (a subscription not listed has the full cap) */
  private readonly caps = new Map<string, number>();
  private inFlightCount = 0;
  private queuedCount = 0;

  constructor(private readonly limits: SchedulerLimits) {}

  /** Items started and not finished. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Items waiting to start. */
  get queued(): number {
    return this.queuedCount;
  }

  /** A subscription's cap on items in flight now. */
  capOf(subscriptionId: string): number {
    return this.caps.get(subscriptionId) ?? this.limits.perSubscription;
  }

  /** Whether the subscription's cap is below the configured one (its endpoint stopped answering). */
  isThrottled(subscriptionId: string): boolean {
    return this.caps.has(subscriptionId);
  }

  /** Subscriptions whose cap is below the configured one. */
  throttled(): IterableIterator<string> {
    return this.caps.keys();
  }

  /** Drops the subscription's adapted cap (it has the full cap again); nothing it holds changes. */
  forgetCap(subscriptionId: string): boolean {
    return this.caps.delete(subscriptionId);
  }

  /** Items of one subscription in flight and waiting. */
  heldBy(subscriptionId: string): number {
    const s = this.subs.get(subscriptionId);
    return s ? s.inFlight + s.queue.length : 0;
  }

  /** Items of one organization in flight and waiting. */
  heldByOrganization(organizationId: number): number {
    const org = this.orgs.get(organizationId);
    return org ? org.inFlight + org.queued : 0;
  }

  /** Items of one organization in flight. */
  inFlightOf(organizationId: number): number {
    return this.orgs.get(organizationId)?.inFlight ?? 0;
  }

  /** Subscriptions holding items (in flight or waiting). */
  subscriptions(): IterableIterator<string> {
    return this.subs.keys();
  }

  enqueue(organizationId: number, subscriptionId: string, item: T): void {
    const sub = this.sub(organizationId, subscriptionId);
    const org = this.org(organizationId);
    if (sub.queue.length === 0) {
      if (org.queued === 0) this.ready.push(organizationId);
      org.ready.push(subscriptionId);
    }
    sub.queue.push(item);
    org.queued++;
    this.queuedCount++;
  }

  /**
   * Takes the next item allowed to start now and counts it in flight (until `finished`), or
   * undefined when every slot is taken or nothing queued may start.
   */
  next(): Started<T> | undefined {
    if (this.inFlightCount >= this.limits.concurrency || this.ready.length === 0) return undefined;
    const share = Math.ceil(this.limits.concurrency / this.contenders());
    // first whoever is under its share, in turn; then, if nobody is, whoever may start at all
    return this.take((org) => org.inFlight < share) ?? this.take(() => true);
  }

  /** A started item is done: its slot is free again. */
  finished(organizationId: number, subscriptionId: string): void {
    const sub = this.subs.get(subscriptionId);
    const org = this.orgs.get(organizationId);
    if (!sub || !org) return;
    sub.inFlight--;
    org.inFlight--;
    this.inFlightCount--;
    this.forgetIfIdle(organizationId, subscriptionId);
  }

  /** How a request to the subscription's endpoint went: its cap shrinks or grows accordingly. */
  observe(subscriptionId: string, answer: Answer): void {
    const cap = this.capOf(subscriptionId);
    const next = answer === 'answered' ? cap + 1 : Math.max(1, Math.floor(cap / 2));
    if (next >= this.limits.perSubscription) this.caps.delete(subscriptionId);
    else this.caps.set(subscriptionId, next);
  }

  /**
   * Removes and returns the subscription's waiting items beyond the first `keep` (in flight
   * included): the newest, so that what stays is what waited longest.
   */
  trim(subscriptionId: string, keep: number): T[] {
    const sub = this.subs.get(subscriptionId);
    const excess = sub ? sub.queue.length - Math.max(0, keep - sub.inFlight) : 0;
    if (!sub || excess <= 0) return [];
    const kept = new Fifo<T>();
    const removed: T[] = [];
    for (let i = 0, n = sub.queue.length; i < n; i++) {
      const item = sub.queue.shift()!;
      if (i < n - excess) kept.push(item);
      else removed.push(item);
    }
    sub.queue = kept;
    const org = this.orgs.get(sub.organizationId)!;
    org.queued -= removed.length;
    this.queuedCount -= removed.length;
    if (kept.length === 0) {
      const at = org.ready.indexOf(subscriptionId);
      org.ready.splice(at, 1);
      if (org.cursor > at) org.cursor--;
      if (org.cursor >= org.ready.length) org.cursor = 0;
      if (org.queued === 0) {
        const o = this.ready.indexOf(sub.organizationId);
        this.ready.splice(o, 1);
        if (this.cursor > o) this.cursor--;
        if (this.cursor >= this.ready.length) this.cursor = 0;
      }
    }
    this.forgetIfIdle(sub.organizationId, subscriptionId);
    return removed;
  }

  /** Removes and returns every waiting item (to give them back unsent). */
  drain(): T[] {
    const items: T[] = [];
    for (const [id, sub] of this.subs) {
      for (let it = sub.queue.shift(); it !== undefined; it = sub.queue.shift()) items.push(it);
      const org = this.orgs.get(sub.organizationId)!;
      org.queued = 0;
      org.ready = [];
      org.cursor = 0;
      this.forgetIfIdle(sub.organizationId, id);
    }
    this.ready.length = 0;
    this.cursor = 0;
    this.queuedCount = 0;
    return items;
  }

  /** Organizations holding or waiting for slots: the fair share divides the slots between them. */
  private contenders(): number {
    let n = 0;
    for (const org of this.orgs.values()) if (org.inFlight > 0 || org.queued > 0) n++;
    return Math.max(1, n);
  }

  /** The next startable item, in turn, of an organization that `admits` allows. */
  private take(admits: (org: OrgState) => boolean): Started<T> | undefined {
    for (let tried = 0; tried < this.ready.length; tried++) {
      const i = (this.cursor + tried) % this.ready.length;
      const organizationId = this.ready[i]!;
      const org = this.orgs.get(organizationId)!;
      if (org.inFlight >= this.limits.perOrganization || !admits(org)) continue;
      const started = this.takeFrom(organizationId, org);
      if (!started) continue;
      // the next turn goes to the organization after this one (this one may have left the ring)
      this.cursor = this.ready[i] === organizationId ? i + 1 : i;
      if (this.cursor >= this.ready.length) this.cursor = 0;
      return started;
    }
    return undefined;
  }

  /** The next startable item of one organization, its subscriptions in turn. */
  private takeFrom(organizationId: number, org: OrgState): Started<T> | undefined {
    for (let tried = 0; tried < org.ready.length; tried++) {
      const i = (org.cursor + tried) % org.ready.length;
      const subscriptionId = org.ready[i]!;
      const sub = this.subs.get(subscriptionId)!;
      if (sub.inFlight >= this.capOf(subscriptionId)) continue;
      const item = sub.queue.shift()!;
      sub.inFlight++;
      org.inFlight++;
      org.queued--;
      this.inFlightCount++;
      this.queuedCount--;
      if (sub.queue.length === 0) {
        org.ready.splice(i, 1);
        org.cursor = i;
      } else org.cursor = i + 1;
      if (org.cursor >= org.ready.length) org.cursor = 0;
      if (org.queued === 0) {
        const at = this.ready.indexOf(organizationId);
        this.ready.splice(at, 1);
        if (this.cursor > at) this.cursor--;
      }
      return { organizationId, subscriptionId, item };
    }
    return undefined;
  }

  private sub(organizationId: number, subscriptionId: string): SubState<T> {
    let sub = this.subs.get(subscriptionId);
    if (!sub) this.subs.set(subscriptionId, (sub = { organizationId, queue: new Fifo(), inFlight: 0 }));
    return sub;
  }

  private org(organizationId: number): OrgState {
    let org = this.orgs.get(organizationId);
    if (!org) this.orgs.set(organizationId, (org = { inFlight: 0, queued: 0, ready: [], cursor: 0 }));
    return org;
  }

  private forgetIfIdle(organizationId: number, subscriptionId: string): void {
    const sub = this.subs.get(subscriptionId);
    if (sub && sub.inFlight === 0 && sub.queue.length === 0) this.subs.delete(subscriptionId);
    const org = this.orgs.get(organizationId);
    if (org && org.inFlight === 0 && org.queued === 0) this.orgs.delete(organizationId);
  }
}
