/**
 * The pace an endpoint has shown it can take: the best per-second rate seen, fading by a fiftieth
 * a second, so that a fast endpoint idle for a minute is still trusted with a burst, while one
 * that turned slow is soon held to its new pace.
 */
export class RateMeter {
  private n = 0;

  constructor(private since = performance.now()) {
    this.lastHitAt = since;
  }

  /** undefined until a first second has been measured */
  private best: number | undefined;
  /** when the last hit was counted (the clock of `hit`) */
  lastHitAt: number;

  hit(now: number): void {
    this.roll(now);
    this.n++;
    this.lastHitAt = now;
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
