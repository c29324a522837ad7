import type { DeliverySettings } from '../config.js';
import type { Logger } from '../log.js';
import { WorkLoop } from '../loop.js';
import type { Db } from '../store/db.js';
import { claimDeliveries } from '../store/deliveries/claim.js';
import type { Completion } from '../store/deliveries/complete.js';
import type { HandOff } from '../store/deliveries/fan-out.js';
import type { ClaimedDelivery } from '../store/deliveries/queue.js';
import { releaseAllLeases } from '../store/deliveries/release.js';
import type { Metrics } from '../metrics.js';
import { completionOf, deliveryHeaders } from './attempt.js';
import { Fifo } from './fifo.js';
import { Liveness } from './liveness.js';
import { OutcomeBatcher } from './outcomes.js';
import { RateMeter } from './rate-meter.js';
import { HttpSender, type SendOutcome } from './sender.js';
import { openSecret, SecretBox } from './secret-box.js';

/** Deliveries claimed per statement at most. */
const CLAIM_BATCH = 2000;
/** Extra time on top of the request timeout before another worker may take a delivery over. */
const LEASE_MARGIN_MS = 30_000;

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
const MAX_HELD_CHAINS = 20_000;
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

interface Queued {
  chain: ClaimedDelivery[];
  at: number;
}

/**
 * Claims due deliveries and sends them, many at once, within two caps: `concurrency` requests in
 * flight per process, and `perSubscription` per subscription, so a hanging endpoint ties up only
 * its own share while everyone else's deliveries keep flowing. A claim is a chain: one contact's
 * queued deliveries to one subscription, sent one after the other, so per-contact order holds
 * without a claim per event; when a link fails, the links behind it go back to the queue unsent.
 *
 * Chains are claimed (or handed over by the closer) ahead of what is being sent, as many as each
 * subscription's endpoint has shown it can take (see `capacity`), into a local queue per
 * subscription, so one claim feeds many sends. Outcomes are
 * written in batches (attempt log, delivery state, subscription health) as they come in; a batch
 * that freed a contact's next delivery (or gave chains back) signals the `deliveries` channel.
 */
export class DeliveryWorker {
  private readonly loop: WorkLoop;
  /** the only worker on its store: the embedded engine, which one process holds exclusively */
  private readonly alone: boolean;
  /** chains being sent, per subscription */
  private readonly perSub = new Map<string, number>();
  /** chains completed per second, per subscription, recently */
  private readonly rates = new Map<string, RateMeter>();
  /** chains claimed and waiting to be sent, per subscription, oldest first */
  private readonly queued = new Map<string, Fifo<Queued>>();
  private inFlight = 0;
  private queuedChains = 0;
  private starved = false;
  /** subscriptions that got all their room in the last claim, so probably have more waiting */
  private capped = new Set<string>();
  private stopping = false;
  private readonly sends = new Set<Promise<void>>();
  private unlisten: (() => Promise<void>) | undefined;
  private stopped: Promise<void> | undefined;
  private readonly liveness: Liveness;
  private readonly outcomes: OutcomeBatcher;

  private readonly sender: HttpSender;
  private readonly metrics: Metrics | undefined;
  /** opens sealed signing secrets (`FPT_SECRETS_KEY`) */
  private readonly secrets: SecretBox | undefined;

  constructor(
    private readonly db: Db,
    private readonly s: DeliverySettings,
    private readonly log: Logger,
    opts: { sender?: HttpSender; metrics?: Metrics } = {},
  ) {
    this.loop = new WorkLoop({ name: 'delivery', log, idleMs: 30_000, step: () => this.step() });
    this.alone = db.engine === 'pglite';
    this.sender = opts.sender ?? new HttpSender({ timeoutMs: s.timeoutMs, allowPrivate: s.allowPrivateUrls });
    this.metrics = opts.metrics;
    this.secrets = s.secretsKeys ? new SecretBox(s.secretsKeys) : undefined;
    this.metrics?.watchWorker({ inFlight: () => this.inFlight, queuedChains: () => this.queuedChains });
    this.outcomes = new OutcomeBatcher(db, this.alone, log, () => this.wake());
    this.liveness = new Liveness(db, this.alone, s.deadAfterMs, log, {
      // (their leases were made due and others may have claimed them: giving them back changes
      // nothing where they did, since a release only applies to the attempt this worker made)
      declaredDead: () => this.releaseQueued(),
      wake: () => this.wake(),
    });
  }

  /** Chains of one subscription this worker may hold (in flight and queued). */
  private capacity(sub: string): number {
    // (an endpoint whose first second is still being measured is not seen yet: taking its pace as
    // zero cut its share to the in-flight caps in the middle of a burst, and the closer, finding no
    // room, wrote nearly all of the burst for claims instead of handing it over)
    const rate = this.alone ? undefined : this.rates.get(sub)?.perSecond(performance.now());
    if (rate === undefined) return this.unseenCapacity();
    const fixed = this.s.perSubscription * (1 + PREFETCH);
    return Math.min(MAX_HELD_CHAINS, Math.max(fixed, Math.floor(rate * PREFETCH_SECONDS)));
  }

  /** What a subscription not seen yet may hold (the benefit of the doubt; its pace soon decides), or any one when alone. */
  private unseenCapacity(): number {
    // alone on its store, the worker competes with nobody for deliveries: it takes all it may hold
    if (this.alone) return MAX_HELD_CHAINS;
    return Math.max(this.s.perSubscription * (1 + PREFETCH), FIRST_CAPACITY);
  }

  /** Chains of one subscription this worker has room to take on (to send or to queue). */
  private roomFor(sub: string): number {
    const held = (this.perSub.get(sub) ?? 0) + (this.queued.get(sub)?.length ?? 0);
    return this.capacity(sub) - held;
  }

  private get maxHeld(): number {
    return Math.max(this.s.concurrency * (1 + PREFETCH), MAX_HELD_CHAINS);
  }

  /** Chains this worker has room to take on, in all. */
  private room(): number {
    return this.maxHeld - this.inFlight - this.queuedChains;
  }

  /** A claim's lease: the request, a margin, and the longest the chain may wait in the queue. */
  private get leaseMs(): number {
    if (this.alone) return ALONE_LEASE_MS;
    return this.s.timeoutMs + LEASE_MARGIN_MS + MAX_QUEUE_WAIT_MS;
  }

  /** Room for deliveries handed over by the closer in this process (see `fanOut`). */
  handOffBudget(): HandOff | undefined {
    if (this.stopping || !this.liveness.fresh()) return undefined;
    return {
      chains: this.room(),
      perSubscription: (id) => this.roomFor(id),
      leaseMs: this.leaseMs,
      workerId: this.liveness.workerId,
    };
  }

  /** Renews this worker's heartbeat and takes over for dead workers (see `Liveness`); tests call it directly. */
  heartbeatNow(): Promise<void> {
    return this.liveness.heartbeatNow();
  }

  /** Gives every chain waiting in the local queue back to the queue table unsent. */
  private releaseQueued(): void {
    for (const list of this.queued.values()) for (const q of list) this.release(q.chain);
    this.queued.clear();
    this.queuedChains = 0;
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
    const room = this.room();
    // claim when at least half the room is free: larger claims cost the database less per delivery
    // (and not while this worker may have been declared dead: the next good heartbeat wakes it)
    if (this.stopping || room < this.maxHeld / 2 || !this.liveness.fresh()) return { more: false };
    const limit = Math.min(room, CLAIM_BATCH);
    const full = [...new Set([...this.perSub.keys(), ...this.queued.keys(), ...this.rates.keys()])];
    // the rooms as they are now: a hand-off accepted while the claim runs must not change them
    // halfway (the claim may then take a little more than the room, never less than it reports)
    const defaultRoom = this.unseenCapacity();
    const rooms = new Map(full.map((id) => [id, this.roomFor(id)]));
    const roomFor = (id: string) => rooms.get(id) ?? defaultRoom;
    const skipped = full.filter((id) => roomFor(id) <= 0);
    const { chains, nextInMs } = await claimDeliveries(this.db, {
      limit,
      leaseMs: this.leaseMs,
      workerId: this.liveness.workerId,
      subscriptionRoom: rooms,
      defaultRoom,
    });
    this.enqueue(chains);
    // A subscription that had no room, or got all the room it had, probably has more waiting: claim
    // again for it as soon as half its room is free. Otherwise nothing more is claimable, and
    // finished requests alone will not change that; only a signal will (new deliveries, or freed
    // ones).
    const got = new Map<string, number>();
    for (const c of chains) got.set(c[0]!.subscriptionId, (got.get(c[0]!.subscriptionId) ?? 0) + 1);
    this.capped = new Set([...skipped, ...[...got].filter(([id, n]) => n >= roomFor(id)).map(([id]) => id)]);
    this.starved = chains.length < limit;
    if (chains.length === limit) return { more: true };
    return { more: false, nextInMs: nextInMs === undefined ? undefined : Math.max(0, Math.ceil(nextInMs)) };
  }

  private enqueue(chains: readonly ClaimedDelivery[][]): void {
    const now = Date.now();
    for (const chain of chains) {
      const sub = chain[0]!.subscriptionId;
      let list = this.queued.get(sub);
      if (!list) this.queued.set(sub, (list = new Fifo()));
      list.push({ chain, at: now });
      this.queuedChains++;
    }
    this.pump();
  }

  /** Starts queued chains while there is capacity, each subscription within its own cap. */
  private pump(): void {
    if (this.queuedChains === 0) return;
    const now = Date.now();
    for (const [sub, list] of this.queued) {
      while (
        list.length > 0 &&
        this.inFlight < this.s.concurrency &&
        (this.perSub.get(sub) ?? 0) < this.s.perSubscription
      ) {
        const q = list.shift()!;
        this.queuedChains--;
        if (!this.alone && (now - q.at > MAX_QUEUE_WAIT_MS || !this.liveness.fresh())) this.release(q.chain);
        else this.dispatch(q.chain);
      }
      if (list.length === 0) this.queued.delete(sub);
      if (this.inFlight >= this.s.concurrency) return;
    }
  }

  /** Gives a claimed chain back to the queue table unsent. */
  private release(chain: readonly ClaimedDelivery[]): void {
    this.outcomes.release(chain.map((d) => ({ deliveryId: d.id, attempt: d.attempt })));
  }

  private dispatch(chain: ClaimedDelivery[]): void {
    const sub = chain[0]!.subscriptionId;
    this.inFlight++;
    this.perSub.set(sub, (this.perSub.get(sub) ?? 0) + 1);
    const send = this.deliverChain(chain).finally(() => {
      this.inFlight--;
      let rate = this.rates.get(sub);
      if (!rate) this.rates.set(sub, (rate = new RateMeter()));
      rate.hit(performance.now());
      const n = (this.perSub.get(sub) ?? 1) - 1;
      if (n === 0) this.perSub.delete(sub);
      else this.perSub.set(sub, n);
      this.sends.delete(send);
      this.pump();
      // with half the room free again, claim without waiting for the next written batch
      if (
        (this.capped.has(sub) && this.roomFor(sub) >= this.capacity(sub) / 2) ||
        (!this.starved && this.room() >= this.maxHeld / 2)
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
      const done = await this.deliver(chain[i]!);
      if (done.outcome !== 'succeeded') {
        // the contact's later deliveries must not overtake this one: back to the queue, unsent
        this.outcomes.record(
          done,
          chain.slice(i + 1).map((d) => ({ deliveryId: d.id, attempt: d.attempt })),
        );
        return;
      }
      this.outcomes.record(done);
    }
  }

  private async deliver(d: ClaimedDelivery): Promise<Completion> {
    const startedAt = new Date();
    let out: SendOutcome;
    try {
      const secrets = d.secrets.map((x) => openSecret(x, this.secrets));
      out = await this.sender.send(d.url, d.body, deliveryHeaders(d, startedAt.getTime(), secrets));
    } catch (err) {
      // Not signable (a sealed secret and no key for it): a failed attempt, logged and retried on
      // the schedule like any other, rather than a rejection that would end the process.
      out = { kind: 'error', error: `cannot sign: ${(err as Error).message}`, durationMs: 0 };
    }
    const done = completionOf(d, startedAt, out, this.s.retryScheduleMs);
    this.metrics?.attempt(done.outcome, out.durationMs);
    if (done.outcome !== 'succeeded') {
      this.log.info(
        {
          deliveryId: d.id,
          subscriptionId: d.subscriptionId,
          attempt: d.attempt,
          outcome: done.outcome,
          status: done.statusCode,
          error: done.error,
        },
        'delivery attempt did not succeed',
      );
    }
    return done;
  }
}
