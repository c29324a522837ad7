/** What taking from a bucket found. */
export interface BucketState {
  /** whether the request may go ahead (a token was taken) */
  allowed: boolean;
  /** whole tokens left */
  remaining: number;
  /** seconds until the bucket is full again */
  resetSeconds: number;
  /** when refused: seconds until one token is there */
  retryAfterSeconds: number;
}

/** Buckets kept before full ones are dropped (a full bucket is the same as none). */
const SWEEP_ABOVE = 10_000;

/**
 * Token buckets, one per key: each holds up to `burst` tokens and refills at `perSecond`; a request
 * takes one. Kept in this process's memory (docs/api.md, "Rate limits", says why).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    /** milliseconds, monotonic; tests pass their own clock */
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(perSecond > 0) || !(burst >= 1))
      throw new Error('a token bucket needs a rate above 0 and a burst of 1 or more');
  }

  private level(key: string, now: number): number {
    const b = this.buckets.get(key);
    if (!b) return this.burst;
    return Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
  }

  private state(tokens: number, allowed: boolean): BucketState {
    return {
      allowed,
      remaining: Math.floor(tokens),
      resetSeconds: Math.ceil((this.burst - tokens) / this.perSecond),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.perSecond)),
    };
  }

  /** Takes a token for `key` if there is one. */
  take(key: string): BucketState {
    const now = this.now();
    const tokens = this.level(key, now);
    const allowed = tokens >= 1;
    const left = allowed ? tokens - 1 : tokens;
    if (allowed || this.buckets.has(key)) {
      if (this.buckets.size >= SWEEP_ABOVE && !this.buckets.has(key)) this.sweep(now);
      this.buckets.set(key, { tokens: left, at: now });
    }
    return this.state(left, allowed);
  }

  /** Whether `key` has a token now, without taking it. */
  peek(key: string): BucketState {
    const tokens = this.level(key, this.now());
    return this.state(tokens, tokens >= 1);
  }

  /** How many keys have a bucket that is not full. */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [key] of this.buckets) if (this.level(key, now) >= this.burst) this.buckets.delete(key);
  }
}
