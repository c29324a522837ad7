import type { DeliverySettings } from '../config.js';
import type { Logger } from '../log.js';
import { WorkLoop } from '../loop.js';
import type { Db } from '../store/db.js';
import { claimDeliveries } from '../store/deliveries/claim.js';
import type { HandOff } from '../store/deliveries/fan-out.js';
import type { ClaimedDelivery } from '../store/deliveries/queue.js';
import { releaseAllLeases } from '../store/deliveries/release.js';
import type { Metrics } from '../metrics.js';
import { Capacity } from './capacity.js';
import { FORGET_EVERY_MS, FORGET_IDLE_MS, forgetSubscriptions } from './forgetting.js';
import { chooseHandOff } from './hand-off.js';
import { Liveness } from './liveness.js';
import { OutcomeBatcher } from './outcomes.js';
import { FairScheduler, type Answer } from './scheduler.js';
import { sendDelivery, type AttemptDeps } from './send-delivery.js';
import { HttpSender } from './sender.js';
import { SecretBox } from './secret-box.js';

/** Deliveries claimed per statement at most. */
const CLAIM_BATCH = 2000;
/** Extra time on top of the request timeout before another worker may take a delivery over. */
const LEASE_MARGIN_MS = 30_000;

/**
 * Longest a claimed chain may wait in the local queue. One that waited longer (its endpoint is
 * slow) goes back to the queue table unsent, well before its lease could run out.
 */
const MAX_QUEUE_WAIT_MS = 30_000;
/**
 * The lease of a worker alone on its store (the embedded engine: one process holds the data folder
 * exclusively). Nobody else could take a delivery over, so leases only have to outlive the
 * process, and a new process releases them all at start.
 */
const ALONE_LEASE_MS = 7 * 24 * 3_600_000;

/** What a worker keeps per subscription (see `DeliveryWorker.remembered`). */
export interface Remembered {
  paces: string[];
  caps: string[];
  successes: string[];
  holding: string[];
}

interface Queued {
  chain: ClaimedDelivery[];
  at: number;
}

/**
 * Claims due deliveries and sends them, many at once, sharing the process's `concurrency` request
 * slots fairly between organizations and their subscriptions (see `FairScheduler`), each
 * organization within `perOrganization` and each subscription within its adaptive cap (at most
 * `perSubscription`), so a hanging endpoint ties up one slot of its own tenant's share while
 * everyone else's deliveries keep flowing. A claim is a chain: one contact's queued deliveries to
 * one subscription, sent one after the other, so per-contact order holds without a claim per
 * event; when a link fails, the links behind it go back to the queue unsent.
 *
 * Chains are claimed (or handed over by the closer) ahead of what is being sent, as many as each
 * subscription's endpoint has shown it can take (see `Capacity`), into the scheduler's queues, so
 * one claim feeds many sends. Outcomes are written in batches as they come in (`OutcomeBatcher`);
 * a batch that freed a contact's next delivery (or gave chains back) signals the `deliveries`
 * channel.
 */
export class DeliveryWorker {
  private readonly loop: WorkLoop;
  /** the only worker on its store: the embedded engine, which one process holds exclusively */
  private readonly alone: boolean;
  /** chains claimed, waiting for a slot and being sent */
  private readonly scheduler: FairScheduler<Queued>;
  private readonly capacity: Capacity;
  private starved = false;
  /** subscriptions that got all their room in the last claim, so probably have more waiting */
  private capped = new Set<string>();
  private stopping = false;
  private readonly sends = new Set<Promise<void>>();
  private unlisten: (() => Promise<void>) | undefined;
  private stopped: Promise<void> | undefined;
  private readonly liveness: Liveness;
  private readonly outcomes: OutcomeBatcher;
  private readonly forgetIdleMs: number;
  private forgetTimer: NodeJS.Timeout | undefined;

  private readonly sender: HttpSender;
  private readonly metrics: Metrics | undefined;
  /** what sending one delivery takes (see `sendDelivery`) */
  private readonly attempts: AttemptDeps;

  constructor(
    private readonly db: Db,
    private readonly s: DeliverySettings,
    private readonly log: Logger,
    opts: {
      sender?: HttpSender;
      metrics?: Metrics;
      /** how long a subscription may go without work before its state is forgotten (see `forgetNow`) */
      forgetIdleMs?: number;
    } = {},
  ) {
    this.loop = new WorkLoop({ name: 'delivery', log, idleMs: 30_000, step: () => this.step() });
    this.alone = db.engine === 'pglite';
    this.sender =
      opts.sender ?? new HttpSender({ timeoutMs: s.timeoutMs, allowPrivate: s.allowPrivateUrls, log });
    this.metrics = opts.metrics;
    this.forgetIdleMs = opts.forgetIdleMs ?? FORGET_IDLE_MS;
    this.attempts = {
      sender: this.sender,
      // opens sealed signing secrets (`FPT_SECRETS_KEY`)
      secrets: s.secretsKeys ? new SecretBox(s.secretsKeys) : undefined,
      retryScheduleMs: s.retryScheduleMs,
      metrics: opts.metrics,
      log,
    };
    this.scheduler = new FairScheduler({
      concurrency: s.concurrency,
      perOrganization: Math.min(s.perOrganization, s.concurrency),
      perSubscription: s.perSubscription,
    });
    this.capacity = new Capacity(s, this.alone, this.scheduler);
    this.metrics?.watchWorker({
      inFlight: () => this.scheduler.inFlight,
      queuedChains: () => this.scheduler.queued,
    });
    this.outcomes = new OutcomeBatcher(db, this.alone, log, () => this.wake());
    this.liveness = new Liveness(db, this.alone, s.deadAfterMs, log, {
      // (their leases were made due and others may have claimed them: giving them back changes
      // nothing where they did, since a release only applies to the attempt this worker made)
      declaredDead: () => this.releaseQueued(),
      wake: () => this.wake(),
    });
  }

  /** A claim's lease: the request, a margin, and the longest the chain may wait in the queue. */
  private get leaseMs(): number {
    if (this.alone) return ALONE_LEASE_MS;
    return this.s.timeoutMs + LEASE_MARGIN_MS + MAX_QUEUE_WAIT_MS;
  }

  /** What this worker takes of the deliveries the closer in this process writes (see `fanOut`). */
  handOffBudget(): HandOff | undefined {
    if (this.stopping || !this.liveness.fresh()) return undefined;
    return {
      choose: (chains) =>
        chooseHandOff(chains, {
          total: this.capacity.room(),
          forSubscription: (id) => this.capacity.roomFor(id),
          forOrganization: (org) => this.capacity.roomForOrganization(org),
        }),
      leaseMs: this.leaseMs,
      workerId: this.liveness.workerId,
    };
  }

  /** Renews this worker's heartbeat and takes over for dead workers (see `Liveness`); tests call it directly. */
  heartbeatNow(): Promise<void> {
    return this.liveness.heartbeatNow();
  }

  /**
   * What this worker keeps per subscription, by subscription id: measured paces, adapted caps,
   * noted successes, and chains held (queued or in flight). For tests and the memory bench.
   */
  remembered(): Remembered {
    const ids = (it: Iterable<string>) => [...it].sort();
    return {
      paces: ids(this.capacity.measured()),
      caps: ids(this.scheduler.throttled()),
      successes: ids(this.outcomes.noted()),
      holding: ids(this.scheduler.subscriptions()),
    };
  }

  /**
   * Forgets what this worker keeps for subscriptions that are gone, disabled or paused, or idle
   * too long (see `forgetting.ts`); runs every few minutes, and tests call it directly. Answers
   * how many subscriptions were forgotten.
   */
  forgetNow(): Promise<number> {
    const state = { capacity: this.capacity, scheduler: this.scheduler, outcomes: this.outcomes };
    return forgetSubscriptions(this.db, state, this.forgetIdleMs);
  }

  /** Gives every chain waiting in the local queue back to the queue table unsent. */
  private releaseQueued(): void {
    for (const q of this.scheduler.drain()) this.release(q.chain);
  }

  /** Takes chains claimed elsewhere in this process (the closer's hand-off) and sends them. */
  accept(chains: readonly ClaimedDelivery[][]): void {
    this.enqueue(chains);
  }

  async start(): Promise<void> {
    if (this.alone) {
      // whatever a previous process left leased, it will never finish: send it again now
      const n = await releaseAllLeases(this.db);
      if (n > 0)
        this.log.warn({ deliveries: n }, 'deliveries left in flight by a previous run are sent again');
    } else {
      await this.liveness.start();
    }
    this.unlisten = await this.db.listen('deliveries', () => this.wake());
    this.loop.start();
    this.forgetTimer = setInterval(() => {
      this.forgetNow().catch((err: unknown) =>
        this.log.warn({ err }, 'could not read which subscriptions to forget; trying again later'),
      );
    }, FORGET_EVERY_MS);
    this.forgetTimer.unref();
  }

  /**
   * Stops claiming, lets every request in flight finish and records its outcome; chains still
   * waiting in the local queue go back to the queue table unsent, for any worker to take at once.
   * Calling it again returns the same stop.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.forgetTimer);
    await this.unlisten?.();
    await this.loop.stop();
    this.releaseQueued();
    await Promise.all([...this.sends]);
    this.outcomes.stopping = true;
    await this.outcomes.flush();
    await this.sender.close();
    // What it held is written back or given back, so nothing is left to take over, unless the last
    // outcomes could not be written: then the row stays, goes stale, and others take those over.
    await this.liveness.stop(!this.outcomes.leftLeased);
  }

  /** New work may be claimable (a signal, or a written batch that freed contacts' next deliveries). */
  private wake(): void {
    this.starved = false;
    this.loop.wake();
  }

  private async step() {
    const room = this.capacity.room();
    const max = this.capacity.max;
    // claim when at least half the room is free: larger claims cost the database less per delivery
    // (and not while this worker may have been declared dead: the next good heartbeat wakes it)
    if (this.stopping || room < max / 2 || !this.liveness.fresh()) return { more: false };
    const limit = Math.min(room, CLAIM_BATCH);
    const known = this.capacity.known();
    // the rooms as they are now: a hand-off accepted while the claim runs must not change them
    // halfway (the claim may then take a little more than the room, never less than it reports)
    const defaultRoom = this.capacity.unseen();
    const rooms = new Map(known.map((id) => [id, this.capacity.roomFor(id)]));
    const roomFor = (id: string) => rooms.get(id) ?? defaultRoom;
    const orgRooms = new Map<number, number>();
    const { chains, nextInMs } = await claimDeliveries(this.db, {
      limit,
      leaseMs: this.leaseMs,
      workerId: this.liveness.workerId,
      subscriptionRoom: rooms,
      defaultRoom,
      organizationRoom: (org) => {
        let r = orgRooms.get(org);
        if (r === undefined) orgRooms.set(org, (r = this.capacity.roomForOrganization(org)));
        return r;
      },
    });
    this.enqueue(chains);
    // A subscription that had no room, or got all the room it had, probably has more waiting: claim
    // again for it as soon as half its room is free. Otherwise nothing more is claimable, and
    // finished requests alone will not change that; only a signal will (new deliveries, or freed
    // ones).
    const got = new Map<string, number>();
    for (const c of chains) got.set(c[0]!.subscriptionId, (got.get(c[0]!.subscriptionId) ?? 0) + 1);
    const skipped = known.filter((id) => roomFor(id) <= 0);
    this.capped = new Set([...skipped, ...[...got].filter(([id, n]) => n >= roomFor(id)).map(([id]) => id)]);
    this.starved = chains.length < limit;
    if (chains.length === limit) return { more: true };
    return { more: false, nextInMs: nextInMs === undefined ? undefined : Math.max(0, Math.ceil(nextInMs)) };
  }

  private enqueue(chains: readonly ClaimedDelivery[][]): void {
    const now = Date.now();
    for (const chain of chains) {
      const d = chain[0]!;
      this.scheduler.enqueue(d.organizationId, d.subscriptionId, { chain, at: now });
    }
    this.pump();
  }

  /** Starts queued chains while the scheduler gives them slots (see `FairScheduler`). */
  private pump(): void {
    const now = Date.now();
    for (let next = this.scheduler.next(); next; next = this.scheduler.next()) {
      const q = next.item;
      if (!this.alone && (now - q.at > MAX_QUEUE_WAIT_MS || !this.liveness.fresh())) {
        this.release(q.chain);
        this.scheduler.finished(next.organizationId, next.subscriptionId);
      } else this.dispatch(next.organizationId, q.chain);
    }
  }

  /** Gives a claimed chain back to the queue table unsent. */
  private release(chain: readonly ClaimedDelivery[]): void {
    this.outcomes.release(chain.map((d) => ({ deliveryId: d.id, eventSeq: d.eventSeq, attempt: d.attempt })));
  }

  private dispatch(org: number, chain: ClaimedDelivery[]): void {
    const sub = chain[0]!.subscriptionId;
    const send = this.deliverChain(chain).finally(() => {
      this.scheduler.finished(org, sub);
      this.capacity.completed(sub);
      this.sends.delete(send);
      this.pump();
      // with half the room free again, claim without waiting for the next written batch
      if (
        (this.capped.has(sub) && this.capacity.roomFor(sub) >= this.capacity.of(sub) / 2) ||
        (!this.starved && this.capacity.room() >= this.capacity.max / 2)
      )
        this.loop.wake();
    });
    this.sends.add(send);
  }

  private async deliverChain(chain: ClaimedDelivery[]): Promise<void> {
    const epoch = this.liveness.epoch;
    for (let i = 0; i < chain.length; i++) {
      if (i > 0 && (epoch !== this.liveness.epoch || !this.liveness.fresh())) {
        // declared dead meanwhile (others send the rest now), or it may be soon: stop here
        this.release(chain.slice(i));
        return;
      }
      const { done, answer } = await sendDelivery(chain[i]!, this.attempts);
      if (answer !== undefined) this.observe(chain[i]!.subscriptionId, answer);
      if (done.outcome !== 'succeeded') {
        // the contact's later deliveries must not overtake this one: back to the queue, unsent
        this.outcomes.record(
          done,
          chain.slice(i + 1).map((d) => ({ deliveryId: d.id, eventSeq: d.eventSeq, attempt: d.attempt })),
        );
        return;
      }
      this.outcomes.record(done);
    }
  }

  /**
   * How the subscription's endpoint answered: its cap on requests in flight adapts (see
   * `FairScheduler.observe`). Chains queued beyond what the shrunk cap can send go back to the
   * queue table at once, for their turn on the retry schedule, instead of holding room here.
   */
  private observe(sub: string, answer: Answer): void {
    this.scheduler.observe(sub, answer);
    if (answer === 'answered' || !this.scheduler.isThrottled(sub)) return;
    for (const q of this.scheduler.trim(sub, this.capacity.of(sub))) this.release(q.chain);
  }
}
