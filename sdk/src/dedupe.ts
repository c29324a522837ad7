/**
 * Where a receiver remembers which events it has processed. Delivery is at-least-once: a retry, a
 * replay, or a delivery whose 2xx got lost in transit brings the same `eventId` again.
 *
 * `claim` must be atomic: of several concurrent calls for one id, exactly one may resolve `true`.
 * Redis: `SET fpt:event:<id> 1 NX PX <ttlMs>` (claimed when it answers OK). PostgreSQL: `INSERT … ON
 * CONFLICT (event_id) DO UPDATE … WHERE expires_at < now()` (claimed when a row comes back). See the
 * README for both.
 */
export interface DedupeStore {
  /**
   * Claims `eventId` for `ttlMs` milliseconds. Resolves `true` when this call claimed it (process the
   * event), `false` when it is already claimed (a redelivery: acknowledge it, do not process it again).
   */
  claim(eventId: string, ttlMs: number): Promise<boolean>;
  /**
   * Gives a claim up, so that the next delivery of the event is processed. Called when a handler
   * failed: the receiver answers 5xx, FPT retries, and the retry must not be taken for a duplicate.
   */
  release(eventId: string): Promise<void>;
}

export interface MemoryDedupeStoreOptions {
  /** Oldest claims are forgotten first beyond this many; default 100,000 (a few MB). */
  maxEntries?: number;
  /** The current time in milliseconds; default `Date.now`. For tests. */
  now?: () => number;
}

/**
 * A {@link DedupeStore} in this process's memory: right for one process, forgotten on restart. Several
 * processes behind a load balancer need a shared store (Redis, PostgreSQL).
 */
export class MemoryDedupeStore implements DedupeStore {
  // insertion order is expiry order when every claim uses the same TTL, which is how the SDK uses it
  private readonly expiries = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: MemoryDedupeStoreOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 100_000;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError('maxEntries must be a positive integer');
    }
    this.now = opts.now ?? Date.now;
  }

  claim(eventId: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    this.sweep(now);
    const until = this.expiries.get(eventId);
    if (until !== undefined && until > now) return Promise.resolve(false);
    this.expiries.delete(eventId);
    this.expiries.set(eventId, now + ttlMs);
    while (this.expiries.size > this.maxEntries) {
      const oldest = this.expiries.keys().next();
      if (oldest.done === true) break;
      this.expiries.delete(oldest.value);
    }
    return Promise.resolve(true);
  }

  release(eventId: string): Promise<void> {
    this.expiries.delete(eventId);
    return Promise.resolve();
  }

  /** How many claims are held. */
  get size(): number {
    this.sweep(this.now());
    return this.expiries.size;
  }

  /** Drops expired claims from the front; stops at the first live one. */
  private sweep(now: number): void {
    for (const [id, until] of this.expiries) {
      if (until > now) return;
      this.expiries.delete(id);
    }
  }
}
