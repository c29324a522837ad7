import type { DeliverySettings } from '../config.js';
import type { Logger } from '../log.js';
import { WorkLoop } from '../loop.js';
import type { Db } from '../store/db.js';
import {
  claimDeliveries,
  completeDeliveries,
  releaseAllLeases,
  successorsWaiting,
  type ClaimedDelivery,
  type Completion,
  type FinishedPair,
  type HandOff,
  type Release,
} from '../store/deliveries.js';
import type { Metrics } from '../metrics.js';
import { heartbeat, reapDeadWorkers, registerWorker, unregisterWorker } from '../store/workers.js';
import { decide, type AttemptResult } from './policy.js';
import { HttpSender, type SendOutcome } from './sender.js';
import { openSecret, SecretBox } from './secret-box.js';
import { signatureHeaders } from './signing.js';

/** Deliveries claimed per statement at most. */
const CLAIM_BATCH = 2000;
/** Extra time on top of the request timeout before another worker may take a delivery over. */
const LEASE_MARGIN_MS = 30_000;
const USER_AGENT = 'fpt-events-webhooks/1';
/**
 * Alone on the embedded engine, outcome batches start at most this often while fewer than
 * `ALONE_FLUSH_BATCH` outcomes wait (see `flush`).
 */
const ALONE_FLUSH_PACE_MS = 50;
const ALONE_FLUSH_BATCH = 500;
/** Attempts at writing the last outcomes while stopping, before leaving them to their leases. */
const STOP_FLUSH_ATTEMPTS = 3;
/** A subscription's last success is written at most this often per worker. */
const SUCCESS_NOTE_MS = 1000;

/**
 * The complete headers of one delivery: both signatures, and what lets a partner route and dedupe
 * it. (Written as one literal: spreading the signature headers into it cost more than signing.)
 */
export function deliveryHeaders(
  d: ClaimedDelivery,
  nowMs: number,
  /** the secrets in clear (`d.secrets` as stored may be sealed) */
  secrets: readonly string[],
): Record<string, string> {
  const signed = signatureHeaders({
    eventId: d.eventId,
    body: d.body,
    timestamp: Math.floor(nowMs / 1000),
    secrets,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-fpt-signature': signed['x-fpt-signature'],
    'webhook-id': signed['webhook-id'],
    'webhook-timestamp': signed['webhook-timestamp'],
    'webhook-signature': signed['webhook-signature'],
    'x-fpt-event-id': d.eventId,
    'x-fpt-event-type': d.eventType,
    // the events of one window are one logical change: partners fold companions by this id
    'x-fpt-window-id': d.windowId ?? d.eventId,
    'x-fpt-delivery-id': d.id,
    'x-fpt-delivery-attempt': String(d.attempt),
  };
  if (d.isTest) headers['x-fpt-test-event'] = 'true';
  return headers;
}

function completionOf(
  d: ClaimedDelivery,
  startedAt: Date,
  out: SendOutcome,
  schedule: readonly number[],
): Completion {
  const result: AttemptResult =
    out.kind === 'response' ? { kind: 'response', status: out.status, retryAfter: out.retryAfter } : out;
  const decision = decide({ result, attempt: d.attempt, schedule, nowMs: Date.now() });
  // one literal, its fields then set per decision (spreading a base object per outcome cost more)
  const done: Completion = {
    deliveryId: d.id,
    subscriptionId: d.subscriptionId,
    attempt: d.attempt,
    startedAt,
    durationMs: out.durationMs,
    statusCode: out.kind === 'response' ? out.status : null,
    responseBody: out.kind === 'response' ? out.body : null,
    error: out.kind === 'error' ? out.error : null,
    outcome: 'succeeded',
    nextAttemptAt: null,
    reason: null,
  };
  switch (decision.action) {
    case 'succeeded':
      break;
    case 'retry':
      done.outcome = 'retry';
      done.nextAttemptAt = new Date(Date.now() + decision.delayMs);
      break;
    case 'failed':
      done.outcome = 'failed';
      done.error ??= decision.reason;
      break;
    case 'disable':
      done.outcome = 'disabled';
      done.reason = decision.reason;
      break;
  }
  return done;
}

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

/**
 * The pace an endpoint has shown it can take: the best per-second rate seen, fading by a fiftieth
 * a second, so that a fast endpoint idle for a minute is still trusted with a burst, while one
 * that turned slow is soon held to its new pace.
 */
export class RateMeter {
  private n = 0;

  constructor(private since = performance.now()) {}

  /** undefined until a first second has been measured */
  private best: number | undefined;

  hit(now: number): void {
    this.roll(now);
    this.n++;
  }

  /** The pace shown, or undefined while the first second is still being measured. */
  perSecond(now: number): number | undefined {
    this.roll(now);
    return this.best;
  }

  private roll(now: number): void {
    const dt = now - this.since;
    if (dt < 1000) return;
    this.best = Math.max((this.n * 1000) / dt, (this.best ?? 0) * 0.98 ** (dt / 1000));
    this.n = 0;
    this.since = now;
  }
}

interface Queued {
  chain: ClaimedDelivery[];
  at: number;
}

/**
 * A first-in first-out queue whose `shift` costs the same however long it is. (A subscription's
 * queue holds up to 20,000 chains; past ~16,000 entries an array lives in V8's large-object
 * space, where `Array.prototype.shift` moves every remaining entry: 7 µs a chain in the bench.)
 */
export class Fifo<T> implements Iterable<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // drop the consumed front once it is most of the array (amortized: each entry moves once at most)
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
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
  private outcomes: Completion[] = [];
  private released: Release[] = [];
  private flushing: Promise<void> | undefined;
  private flushQueued = false;
  /** when the last batch of outcomes started to be written (performance.now()) */
  private lastFlushAt = -Infinity;
  /** when this worker last wrote a subscription's success (performance.now()) */
  private readonly successNotedAt = new Map<string, number>();
  private unlisten: (() => Promise<void>) | undefined;
  /** this worker's row in `delivery_workers` (none when alone on its store) */
  private workerId: string | undefined;
  /**
   * Bumped when this worker learns it was declared dead: chains dispatched before then stop before
   * their next link (another worker has taken them over).
   */
  private epoch = 0;
  /** when the last heartbeat that found this worker's row was sent (performance.now()) */
  private lastBeatAt = -Infinity;
  private beatTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  /** stopped with outcomes it could not write: their deliveries are still leased to it */
  private leftLeased = false;

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
    this.sender =
      opts.sender ?? new HttpSender({ timeoutMs: s.timeoutMs, allowPrivate: s.allowPrivateUrls, log });
    this.metrics = opts.metrics;
    this.secrets = s.secretsKeys ? new SecretBox(s.secretsKeys) : undefined;
    this.metrics?.watchWorker({ inFlight: () => this.inFlight, queuedChains: () => this.queuedChains });
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
    if (this.stopping || !this.beatFresh()) return undefined;
    return {
      chains: this.room(),
      perSubscription: (id) => this.roomFor(id),
      leaseMs: this.leaseMs,
      workerId: this.workerId,
    };
  }

  /**
   * Whether this worker may start sending what it holds: alone on its store always; otherwise only
   * while its last heartbeat is recent enough that nobody can have declared it dead (half the
   * dead-after time: a worker cut off from the database stops sending well before others take its
   * deliveries over, so the two never send a contact's deliveries side by side).
   */
  private beatFresh(): boolean {
    return this.alone || performance.now() - this.lastBeatAt < this.s.deadAfterMs / 2;
  }

  /**
   * Renews this worker's heartbeat, then takes over for workers that stopped renewing theirs. A
   * heartbeat that finds this worker's row gone means it was declared dead (it could not reach the
   * database for too long, or stalled): it gives up every chain it holds, which others have taken
   * over, and announces itself anew. Runs every sixth of the dead-after time; tests call it directly.
   */
  heartbeatNow(): Promise<void> {
    if (this.workerId === undefined) return Promise.resolve();
    this.beating ??= (async () => {
      const sentAt = performance.now();
      const wasFresh = this.beatFresh();
      try {
        if (await heartbeat(this.db, this.workerId!)) this.lastBeatAt = sentAt;
        else await this.declaredDead(sentAt);
        const reaped = await reapDeadWorkers(this.db, this.s.deadAfterMs);
        if (reaped.workers.length > 0) {
          this.log.warn(
            { workers: reaped.workers, deliveries: reaped.deliveries },
            'workers without a heartbeat are dead; their deliveries are taken over',
          );
        }
        if (reaped.deliveries > 0 || !wasFresh) this.wake();
      } catch (err) {
        this.log.warn({ err }, 'delivery worker heartbeat failed; retrying');
      }
    })().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async declaredDead(sentAt: number): Promise<void> {
    this.log.error(
      { workerId: this.workerId, deadAfterMs: this.s.deadAfterMs },
      'this delivery worker was declared dead (no heartbeat in time); what it held is sent by others',
    );
    this.epoch++;
    // (their leases were made due and others may have claimed them: giving them back changes
    // nothing where they did, since a release only applies to the attempt this worker made)
    for (const list of this.queued.values()) for (const q of list) this.release(q.chain);
    this.queued.clear();
    this.queuedChains = 0;
    await this.announce(sentAt);
  }

  /** Registers this worker anew; registering counts as its heartbeat sent at `sentAt`. */
  private async announce(sentAt: number): Promise<void> {
    this.workerId = await registerWorker(this.db);
    this.lastBeatAt = sentAt;
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
      await this.announce(performance.now());
      await this.heartbeatNow();
      this.beatTimer = setInterval(() => void this.heartbeatNow(), this.s.deadAfterMs / 6);
      this.beatTimer.unref();
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
    for (const list of this.queued.values()) for (const q of list) this.release(q.chain);
    this.queued.clear();
    this.queuedChains = 0;
    await Promise.all([...this.sends]);
    await this.flush();
    await this.sender.close();
    clearInterval(this.beatTimer);
    await this.beating;
    // What it held is written back or given back, so nothing is left to take over, unless the last
    // outcomes could not be written: then the row stays, goes stale, and others take those over.
    if (this.workerId !== undefined && !this.leftLeased)
      await unregisterWorker(this.db, this.workerId).catch((err: unknown) =>
        this.log.warn({ err }, 'could not remove this worker from delivery_workers; others will'),
      );
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
    if (this.stopping || room < this.maxHeld / 2 || !this.beatFresh()) return { more: false };
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
      workerId: this.workerId,
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
        if (!this.alone && (now - q.at > MAX_QUEUE_WAIT_MS || !this.beatFresh())) this.release(q.chain);
        else this.dispatch(q.chain);
      }
      if (list.length === 0) this.queued.delete(sub);
      if (this.inFlight >= this.s.concurrency) return;
    }
  }

  /** Gives a claimed chain back to the queue table unsent. */
  private release(chain: readonly ClaimedDelivery[]): void {
    this.released.push(...chain.map((d) => ({ deliveryId: d.id, attempt: d.attempt })));
    this.scheduleFlush();
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
    const epoch = this.epoch;
    for (let i = 0; i < chain.length; i++) {
      if (i > 0 && (epoch !== this.epoch || !this.beatFresh())) {
        // declared dead meanwhile (others send the rest now), or it may be soon: stop here
        this.release(chain.slice(i));
        return;
      }
      const done = await this.deliver(chain[i]!);
      if (done.outcome !== 'succeeded') {
        // the contact's later deliveries must not overtake this one: back to the queue, unsent
        this.record(
          done,
          chain.slice(i + 1).map((d) => ({ deliveryId: d.id, attempt: d.attempt })),
        );
        return;
      }
      this.record(done);
    }
  }

  private async deliver(d: ClaimedDelivery): Promise<Completion> {
    const startedAt = new Date();
    let out: SendOutcome;
    try {
      const secrets = d.secrets.map((x) => openSecret(x, this.secrets, d.subscriptionId));
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

  private record(done: Completion, released: Release[] = []): void {
    this.outcomes.push(done);
    this.released.push(...released);
    this.scheduleFlush();
  }

  /** One tick's worth of outcomes goes into one transaction: batching under load, no wait when idle. */
  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  /** Whether finished deliveries freed their contacts' next ones; if so, other workers are told. */
  private async successorsFreed(finished: readonly FinishedPair[]): Promise<boolean> {
    if (finished.length === 0) return false;
    return this.db.transaction(
      async (tx) => {
        const waiting = await successorsWaiting(tx, finished);
        if (waiting) await tx.notify('deliveries');
        return waiting;
      },
      { indexLookupsOnly: true },
    );
  }

  /**
   * Of the subscriptions that succeeded in a batch, those whose success to write now: at most one
   * write a second per subscription and process (the statement itself also skips rows written in
   * the last second, by anyone), and always the first success after a failure seen here.
   */
  private successesToNote(batch: readonly Completion[], now: number): string[] {
    const noted: string[] = [];
    for (const c of batch) if (c.outcome !== 'succeeded') this.successNotedAt.delete(c.subscriptionId);
    for (const c of batch) {
      if (c.outcome !== 'succeeded') continue;
      const at = this.successNotedAt.get(c.subscriptionId);
      if (at !== undefined && now - at < SUCCESS_NOTE_MS) continue;
      if (this.successNotedAt.size >= MAX_HELD_CHAINS) this.successNotedAt.clear();
      this.successNotedAt.set(c.subscriptionId, now);
      noted.push(c.subscriptionId);
    }
    return noted;
  }

  /** Writes the recorded outcomes, one batch at a time; a failed write is retried, never dropped. */
  private flush(): Promise<void> {
    this.flushing ??= (async () => {
      let failures = 0;
      while (this.outcomes.length > 0 || this.released.length > 0) {
        if (this.alone && !this.stopping && this.outcomes.length < ALONE_FLUSH_BATCH) {
          // the embedded engine pays a fixed cost per transaction that dwarfs a row's: under load,
          // let a batch gather for a moment (an idle worker, whose last batch is long past, never waits)
          const wait = this.lastFlushAt + ALONE_FLUSH_PACE_MS - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        this.lastFlushAt = performance.now();
        const batch = this.outcomes;
        const released = this.released;
        this.outcomes = [];
        this.released = [];
        const noteSuccess = this.successesToNote(batch, performance.now());
        try {
          const { finished, freedHere } = await this.db.transaction(
            async (tx) => {
              const r = await completeDeliveries(tx, batch, released, noteSuccess);
              // given-back chains are claimable by anyone once this commits
              if (released.length > 0) await tx.notify('deliveries');
              // alone on its store, nothing commits beside this transaction: ask here, at no risk
              return { ...r, freedHere: this.alone ? await successorsWaiting(tx, r.finished) : undefined };
            },
            { indexLookupsOnly: true },
          );
          failures = 0;
          // (asked after the commit, or a next delivery committed meanwhile could be missed by
          // both this question and its own claim; if asking fails, claim anyway)
          const freed = freedHere ?? (await this.successorsFreed(finished).catch(() => true));
          // the next deliveries of these contacts (or given-back ones) have just become claimable;
          // or a retry is now due later: the loop's timer must learn of it
          if (freed || released.length > 0 || batch.some((c) => c.outcome === 'retry')) this.wake();
        } catch (err) {
          for (const id of noteSuccess) this.successNotedAt.delete(id);
          // keep them: until written, their leases keep the deliveries from being sent again
          this.outcomes = batch.concat(this.outcomes);
          this.released = released.concat(this.released);
          failures++;
          if (this.stopping && failures >= STOP_FLUSH_ATTEMPTS) {
            // Shutting down must end. Unwritten, these deliveries keep their leases and are sent
            // again once those run out (or, on the embedded engine, at the next start): at least
            // once, never lost.
            this.log.error(
              { err, outcomes: this.outcomes.length, released: this.released.length, failures },
              'recording delivery outcomes failed while stopping; their deliveries will be sent again',
            );
            this.outcomes = [];
            this.released = [];
            this.leftLeased = true;
            break;
          }
          this.log.error(
            { err, outcomes: batch.length, failures },
            'recording delivery outcomes failed; retrying',
          );
          await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** failures, 5000)));
        }
      }
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }
}
