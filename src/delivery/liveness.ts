import type { Logger } from '../log.js';
import type { Db } from '../store/db.js';
import { heartbeat, reapDeadWorkers, registerWorker, unregisterWorker } from '../store/workers.js';

/**
 * A worker's standing among the workers sharing a PostgreSQL store: its row in `delivery_workers`,
 * renewed by a heartbeat every sixth of the dead-after time, and the takeover of workers that
 * stopped renewing theirs. A worker alone on its store (the embedded engine) has no row and is
 * always fresh.
 */
export class Liveness {
  /** this worker's row in `delivery_workers` (none when alone on its store) */
  workerId: string | undefined;
  /**
   * Bumped when this worker learns it was declared dead: chains dispatched before then stop before
   * their next link (another worker has taken them over).
   */
  epoch = 0;
  /** when the last heartbeat that found this worker's row was sent (performance.now()) */
  private lastBeatAt = -Infinity;
  private beatTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly alone: boolean,
    private readonly deadAfterMs: number,
    private readonly log: Logger,
    private readonly hooks: {
      /** this worker was declared dead: give up every chain it holds (others have them now) */
      declaredDead: () => void;
      /** deliveries may have become claimable (taken over, or this worker fresh again) */
      wake: () => void;
    },
  ) {}

  /**
   * Whether this worker may start sending what it holds: alone on its store always; otherwise only
   * while its last heartbeat is recent enough that nobody can have declared it dead (half the
   * dead-after time: a worker cut off from the database stops sending well before others take its
   * deliveries over, so the two never send a contact's deliveries side by side).
   */
  fresh(): boolean {
    return this.alone || performance.now() - this.lastBeatAt < this.deadAfterMs / 2;
  }

  /** Announces this worker and starts its heartbeat (nothing when alone on its store). */
  async start(): Promise<void> {
    if (this.alone) return;
    await this.announce(performance.now());
    await this.heartbeatNow();
    this.beatTimer = setInterval(() => void this.heartbeatNow(), this.deadAfterMs / 6);
    this.beatTimer.unref();
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
      const wasFresh = this.fresh();
      try {
        if (await heartbeat(this.db, this.workerId!)) this.lastBeatAt = sentAt;
        else await this.declaredDead(sentAt);
        const reaped = await reapDeadWorkers(this.db, this.deadAfterMs);
        if (reaped.workers.length > 0) {
          this.log.warn(
            { workers: reaped.workers, deliveries: reaped.deliveries },
            'workers without a heartbeat are dead; their deliveries are taken over',
          );
        }
        if (reaped.deliveries > 0 || !wasFresh) this.hooks.wake();
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
      { workerId: this.workerId, deadAfterMs: this.deadAfterMs },
      'this delivery worker was declared dead (no heartbeat in time); what it held is sent by others',
    );
    this.epoch++;
    this.hooks.declaredDead();
    await this.announce(sentAt);
  }

  /** Registers this worker anew; registering counts as its heartbeat sent at `sentAt`. */
  private async announce(sentAt: number): Promise<void> {
    this.workerId = await registerWorker(this.db);
    this.lastBeatAt = sentAt;
  }

  /**
   * Stops the heartbeat. With `unregister`, the worker's row goes too (what it held is written
   * back or given back, so nothing is left to take over); otherwise the row goes stale and others
   * take over what is still leased to it.
   */
  async stop(unregister: boolean): Promise<void> {
    clearInterval(this.beatTimer);
    await this.beating;
    if (this.workerId !== undefined && unregister)
      await unregisterWorker(this.db, this.workerId).catch((err: unknown) =>
        this.log.warn({ err }, 'could not remove this worker from delivery_workers; others will'),
      );
  }
}
