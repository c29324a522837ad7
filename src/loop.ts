import type { Logger } from './log.js';

export interface StepResult {
  /** there is more work right now: run again at once */
  more: boolean;
  /** when idle: milliseconds until work is known to be due (a timer, not a poll) */
  nextInMs?: number;
}

export interface LoopOptions {
  name: string;
  step: () => Promise<StepResult>;
  log: Logger;
  /**
   * Longest sleep with nothing due. Work normally arrives by `wake()` (a notification); this bound
   * only covers a signal lost while the listening connection was down.
   */
  idleMs: number;
  maxBackoffMs?: number;
}

/**
 * Runs a step over and over: at once while it reports more work, otherwise asleep until the next
 * known due time, a `wake()`, or `idleMs`. A failing step (the database restarting, say) is logged
 * and retried with exponential backoff; the loop itself never dies of it. Knows no SQL.
 */
export class WorkLoop {
  private stopped = false;
  private woken = false;
  private running: Promise<void> | undefined;
  private interrupt: (() => void) | undefined;

  constructor(private readonly opts: LoopOptions) {}

  start(): void {
    this.running ??= this.run();
  }

  /** There may be new work: skip (or cut short) the next sleep. */
  wake(): void {
    this.woken = true;
    this.interrupt?.();
  }

  /** Stops after the step in progress, if any, has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    await this.running;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let delay: number;
      this.woken = false;
      try {
        const r = await this.opts.step();
        failures = 0;
        if (r.more) continue;
        delay = Math.min(r.nextInMs ?? this.opts.idleMs, this.opts.idleMs);
      } catch (err) {
        failures++;
        delay = Math.min(100 * 2 ** Math.min(failures, 10), this.opts.maxBackoffMs ?? 10_000);
        this.opts.log.error(
          { err, loop: this.opts.name, failures, retryInMs: delay },
          'background step failed',
        );
      }
      if (delay > 0 && !this.woken && !this.stopped) await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.interrupt = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interrupt = done;
    });
  }
}
