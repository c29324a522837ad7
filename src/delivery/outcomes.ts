import type { Logger } from '../log.js';
import type { Db } from '../store/db.js';
import {
  completeDeliveries,
  successorsWaiting,
  type Completion,
  type FinishedPair,
  type Release,
} from '../store/deliveries/complete.js';

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
/** Subscriptions whose last noted success a worker remembers at most (a memory bound). */
const MAX_NOTED = 20_000;

/**
 * The worker's outcomes on their way to the store: attempts as they finish and chains given back
 * unsent, written in batches (attempt log, delivery state, subscription health), one tick's worth
 * per transaction, so that batches grow under load and nothing waits when idle. A failed write is
 * retried, never dropped: until written, the deliveries' leases keep them from being sent again.
 */
export class OutcomeBatcher {
  private outcomes: Completion[] = [];
  private released: Release[] = [];
  private flushing: Promise<void> | undefined;
  private flushQueued = false;
  /** when the last batch of outcomes started to be written (performance.now()) */
  private lastFlushAt = -Infinity;
  /** when this worker last wrote a subscription's success (performance.now()) */
  private readonly successNotedAt = new Map<string, number>();
  /** set while the worker stops: batches no longer wait to gather, and failures end */
  stopping = false;
  /** stopped with outcomes it could not write: their deliveries are still leased to this worker */
  leftLeased = false;

  constructor(
    private readonly db: Db,
    /** the only worker on its store (the embedded engine) */
    private readonly alone: boolean,
    private readonly log: Logger,
    /** called when a written batch made deliveries claimable, or moved a retry's due time */
    private readonly written: () => void,
  ) {}

  /** Subscriptions whose last success this worker remembers noting. */
  noted(): IterableIterator<string> {
    return this.successNotedAt.keys();
  }

  /** Forgets when the subscription's success was last noted (its next success is written). */
  forget(subscriptionId: string): boolean {
    return this.successNotedAt.delete(subscriptionId);
  }

  /** An attempt's outcome, and the links behind it given back unsent when it failed. */
  record(done: Completion, released: readonly Release[] = []): void {
    this.outcomes.push(done);
    if (released.length > 0) this.released.push(...released);
    this.scheduleFlush();
  }

  /** Links given back to the queue table unsent. */
  release(released: readonly Release[]): void {
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
      if (this.successNotedAt.size >= MAX_NOTED) this.successNotedAt.clear();
      this.successNotedAt.set(c.subscriptionId, now);
      noted.push(c.subscriptionId);
    }
    return noted;
  }

  /** Writes the recorded outcomes, one batch at a time; a failed write is retried, never dropped. */
  flush(): Promise<void> {
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
          if (freed || released.length > 0 || batch.some((c) => c.outcome === 'retry')) this.written();
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
