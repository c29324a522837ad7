import type { DeliverySettings } from '../config.js';
import type { Logger } from '../log.js';
import { WorkLoop } from '../loop.js';
import type { Db } from '../store/db.js';
import {
  claimDeliveries,
  completeDeliveries,
  msUntilNextDelivery,
  type ClaimedDelivery,
  type Completion,
  type HandOff,
  type Release,
} from '../store/deliveries.js';
import { decide, type AttemptResult } from './policy.js';
import { HttpSender, type SendOutcome } from './sender.js';
import { signatureHeaders } from './signing.js';

/** Deliveries claimed per statement at most. */
const CLAIM_BATCH = 500;
/** Extra time on top of the request timeout before another worker may take a delivery over. */
const LEASE_MARGIN_MS = 30_000;
const USER_AGENT = 'fpt-events-webhooks/1';

/** The headers of one delivery: both signatures, and what lets a partner route and dedupe it. */
export function deliveryHeaders(d: ClaimedDelivery, body: string, nowMs: number): Record<string, string> {
  return {
    ...signatureHeaders({
      eventId: d.envelope.eventId,
      body,
      timestamp: Math.floor(nowMs / 1000),
      secrets: d.secrets,
    }),
    'user-agent': USER_AGENT,
    'x-fpt-event-id': d.envelope.eventId,
    'x-fpt-event-type': d.envelope.eventType,
    // the events of one window are one logical change: partners fold companions by this id
    'x-fpt-window-id': d.windowId ?? d.envelope.eventId,
    'x-fpt-delivery-id': d.id,
    'x-fpt-delivery-attempt': String(d.attempt),
    ...(d.isTest ? { 'x-fpt-test-event': 'true' } : {}),
  };
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
  const base = {
    deliveryId: d.id,
    subscriptionId: d.subscriptionId,
    attempt: d.attempt,
    startedAt,
    durationMs: out.durationMs,
    statusCode: out.kind === 'response' ? out.status : null,
    responseBody: out.kind === 'response' ? out.body : null,
    error: out.kind === 'error' ? out.error : null,
    nextAttemptAt: null,
    reason: null,
  };
  switch (decision.action) {
    case 'succeeded':
      return { ...base, outcome: 'succeeded' };
    case 'retry':
      return { ...base, outcome: 'retry', nextAttemptAt: new Date(Date.now() + decision.delayMs) };
    case 'failed':
      return { ...base, outcome: 'failed', error: base.error ?? decision.reason };
    case 'disable':
      return { ...base, outcome: 'disabled', reason: decision.reason };
  }
}

/**
 * Claims due deliveries and sends them, many at once, within two caps: `concurrency` requests in
 * flight per process, and `perSubscription` per subscription, so a hanging endpoint ties up only
 * its own share while everyone else's deliveries keep flowing. A claim is a chain: one contact's
 * queued deliveries to one subscription, sent one after the other, so per-contact order holds
 * without a claim per event; when a link fails, the links behind it go back to the queue unsent.
 * Outcomes are written in batches (attempt log, delivery state, subscription health) as they come
 * in; each batch signals the `deliveries` channel, because a finished delivery may free the next
 * one of its contact.
 */
export class DeliveryWorker {
  private readonly loop: WorkLoop;
  private readonly perSub = new Map<string, number>();
  private inFlight = 0;
  private starved = false;
  private readonly sends = new Set<Promise<void>>();
  private outcomes: Completion[] = [];
  private released: Release[] = [];
  private flushing: Promise<void> | undefined;
  private flushQueued = false;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Db,
    private readonly s: DeliverySettings,
    private readonly log: Logger,
    private readonly sender = new HttpSender({ timeoutMs: s.timeoutMs, allowPrivate: s.allowPrivateUrls }),
  ) {
    this.loop = new WorkLoop({ name: 'delivery', log, idleMs: 30_000, step: () => this.step() });
  }

  /** Room for deliveries handed over by the closer in this process (see `claimFresh`). */
  handOffBudget(): HandOff {
    return {
      chains: Math.min(this.s.concurrency - this.inFlight, CLAIM_BATCH),
      perSubscription: (id) => this.s.perSubscription - (this.perSub.get(id) ?? 0),
      leaseMs: this.s.timeoutMs + LEASE_MARGIN_MS,
    };
  }

  /** Takes chains claimed elsewhere in this process (the closer's hand-off) and sends them. */
  accept(chains: readonly ClaimedDelivery[][]): void {
    for (const chain of chains) this.dispatch(chain);
  }

  async start(): Promise<void> {
    this.unlisten = await this.db.listen('deliveries', () => this.wake());
    this.loop.start();
  }

  /** Stops claiming, lets every request in flight finish and records its outcome. */
  async stop(): Promise<void> {
    await this.unlisten?.();
    await this.loop.stop();
    await Promise.all([...this.sends]);
    await this.flush();
    await this.sender.close();
  }

  /** New work may be claimable (a signal, or a written batch that freed contacts' next deliveries). */
  private wake(): void {
    this.starved = false;
    this.loop.wake();
  }

  private async step() {
    const free = this.s.concurrency - this.inFlight;
    if (free <= 0) return { more: false }; // a finishing send wakes the loop
    const limit = Math.min(free, CLAIM_BATCH);
    const chains = await claimDeliveries(this.db, {
      limit,
      leaseMs: this.s.timeoutMs + LEASE_MARGIN_MS,
      skipSubscriptions: [...this.perSub].filter(([, n]) => n >= this.s.perSubscription).map(([id]) => id),
      perSubscription: (id) => this.s.perSubscription - (this.perSub.get(id) ?? 0),
    });
    for (const chain of chains) this.dispatch(chain);
    // nothing claimable: a finished request alone will not change that, only a written batch or a signal
    this.starved = chains.length === 0;
    if (chains.length === limit) return { more: true };
    const next = await msUntilNextDelivery(this.db);
    return { more: false, nextInMs: next === undefined ? undefined : Math.max(0, Math.ceil(next)) };
  }

  private dispatch(chain: ClaimedDelivery[]): void {
    const sub = chain[0]!.subscriptionId;
    this.inFlight++;
    this.perSub.set(sub, (this.perSub.get(sub) ?? 0) + 1);
    const send = this.deliverChain(chain).finally(() => {
      this.inFlight--;
      const n = (this.perSub.get(sub) ?? 1) - 1;
      if (n === 0) this.perSub.delete(sub);
      else this.perSub.set(sub, n);
      this.sends.delete(send);
      // with half the capacity free again, claim without waiting for the next written batch (larger
      // claims cost the database less per delivery than many small ones)
      if (!this.starved && this.inFlight <= this.s.concurrency / 2 && n <= this.s.perSubscription / 2)
        this.loop.wake();
    });
    this.sends.add(send);
  }

  private async deliverChain(chain: ClaimedDelivery[]): Promise<void> {
    for (let i = 0; i < chain.length; i++) {
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
    const body = JSON.stringify(d.envelope);
    const startedAt = new Date();
    const out = await this.sender.send(d.url, body, deliveryHeaders(d, body, startedAt.getTime()));
    const done = completionOf(d, startedAt, out, this.s.retryScheduleMs);
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
    if (this.flushQueued) return;
    this.flushQueued = true;
    // one tick's worth of outcomes goes into one transaction: batching under load, no wait when idle
    setImmediate(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  /** Writes the recorded outcomes, one batch at a time; a failed write is retried, never dropped. */
  private flush(): Promise<void> {
    this.flushing ??= (async () => {
      let failures = 0;
      while (this.outcomes.length > 0) {
        const batch = this.outcomes;
        const released = this.released;
        this.outcomes = [];
        this.released = [];
        try {
          await this.db.transaction(async (tx) => {
            await completeDeliveries(tx, batch, released);
            await tx.notify('deliveries');
          });
          failures = 0;
          // the next deliveries of these contacts have just become claimable
          this.wake();
        } catch (err) {
          // keep them: until written, their leases keep the deliveries from being sent again
          this.outcomes = batch.concat(this.outcomes);
          this.released = released.concat(this.released);
          failures++;
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
