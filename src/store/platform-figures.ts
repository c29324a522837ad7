import type { Engine, Queryable } from './db.js';
import { PARKED } from './deliveries/queue.js';

/** The store's figures that `/metrics` and `GET /api/platform/health` both show. */
export interface StoreFigures {
  pending: number;
  sending: number;
  /** how long the oldest due delivery has waited, in seconds (0 when none) */
  lagSeconds: number;
  openWindows: number;
  subscriptions: { active: number; paused: number; disabled: number };
  /** delivery workers with a registered heartbeat (the embedded engine runs one, unregistered) */
  workers: number;
}

/**
 * The store's figures in one statement. The counts walk the partial index of unfinished deliveries
 * (the backlog itself, not the delivery history); the lag reads the due index's first entries.
 */
const STORE_FIGURES = `SELECT
  (SELECT count(*) FROM deliveries WHERE status = 'pending')::int AS pending,
  (SELECT count(*) FROM deliveries WHERE status = 'sending')::int AS sending,
  (SELECT extract(epoch FROM now() - min(next_attempt_at)) FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= now() AND next_attempt_at < ${PARKED})::float8 AS lag_seconds,
  (SELECT count(*) FROM contact_windows)::int AS windows,
  (SELECT jsonb_object_agg(status, n) FROM (SELECT status, count(*)::int AS n FROM subscriptions GROUP BY status) s) AS subscriptions,
  (SELECT count(*) FROM delivery_workers)::int AS workers`;

export async function storeFigures(q: Queryable, engine: Engine): Promise<StoreFigures> {
  const { rows } = await q.query<{
    pending: number;
    sending: number;
    lag_seconds: number | null;
    windows: number;
    subscriptions: Record<string, number> | null;
    workers: number;
  }>(STORE_FIGURES);
  const r = rows[0]!;
  return {
    pending: r.pending,
    sending: r.sending,
    lagSeconds: Math.max(0, r.lag_seconds ?? 0),
    openWindows: r.windows,
    subscriptions: {
      active: r.subscriptions?.active ?? 0,
      paused: r.subscriptions?.paused ?? 0,
      disabled: r.subscriptions?.disabled ?? 0,
    },
    workers: engine === 'pglite' ? 1 : r.workers,
  };
}

export interface MinuteFigures {
  start: string;
  attempts: number;
  succeeded: number;
  failed: number;
}

/**
 * Delivery attempts per minute over the last `minutes` (the last minute partial), every minute
 * listed. Read per subscription through the attempt log's (subscription_id, started_at) index: one
 * probe per subscription and the recent attempts, never the whole log.
 */
export async function attemptsPerMinute(q: Queryable, minutes: number): Promise<MinuteFigures[]> {
  const { rows } = await q.query<{ from_: Date; bucket: Date | null; attempts: number; succeeded: number }>(
    `WITH range AS (SELECT date_bin(interval '1 minute', now(), timestamptz 'epoch') - ($1::int - 1) * interval '1 minute' AS from_),
     a AS (
       SELECT date_bin(interval '1 minute', a.started_at, timestamptz 'epoch') AS bucket, a.outcome
       FROM range, subscriptions s
       CROSS JOIN LATERAL (SELECT started_at, outcome FROM delivery_attempts
                           WHERE subscription_id = s.id AND started_at >= range.from_) a)
     SELECT range.from_, a.bucket, count(a.bucket)::int AS attempts,
            count(*) FILTER (WHERE a.outcome = 'succeeded')::int AS succeeded
     FROM range LEFT JOIN a ON true GROUP BY range.from_, a.bucket`,
    [minutes],
  );
  const from = rows[0]!.from_.getTime();
  const byMinute = new Map(rows.filter((r) => r.bucket !== null).map((r) => [r.bucket!.getTime(), r]));
  return Array.from({ length: minutes }, (_, i) => {
    const start = from + i * 60_000;
    const r = byMinute.get(start);
    return {
      start: new Date(start).toISOString(),
      attempts: r?.attempts ?? 0,
      succeeded: r?.succeeded ?? 0,
      failed: (r?.attempts ?? 0) - (r?.succeeded ?? 0),
    };
  });
}
