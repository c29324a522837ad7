import type { Queryable } from './db.js';

/** The windows a subscription's health is read over, and the width of their buckets. */
export const HEALTH_WINDOWS = {
  '1h': { seconds: 3600, bucketSeconds: 60 },
  '24h': { seconds: 86_400, bucketSeconds: 900 },
  '7d': { seconds: 604_800, bucketSeconds: 3600 },
} as const;
export type HealthWindow = keyof typeof HEALTH_WINDOWS;

export interface HealthFigures {
  attempts: number;
  succeeded: number;
  failed: number;
  /** null when there was no attempt */
  p50Ms: number | null;
  p99Ms: number | null;
  /** attempts by answer: the HTTP status, or `timeout`, or `error` (no answer: refused, reset, …) */
  statusCodes: Record<string, number>;
}

export interface HealthBucket extends HealthFigures {
  start: string;
}

export interface SubscriptionHealth {
  window: HealthWindow;
  bucketSeconds: number;
  from: string;
  to: string;
  totals: HealthFigures;
  buckets: HealthBucket[];
}

interface FigureRow {
  bucket: Date | null;
  attempts: number;
  succeeded: number;
  p50: number | null;
  p99: number | null;
  codes: Record<string, number> | null;
}

const figures = (r: FigureRow | undefined): HealthFigures => ({
  attempts: r?.attempts ?? 0,
  succeeded: r?.succeeded ?? 0,
  failed: (r?.attempts ?? 0) - (r?.succeeded ?? 0),
  p50Ms: r?.p50 ?? null,
  p99Ms: r?.p99 ?? null,
  statusCodes: r?.codes ?? {},
});

/**
 * A subscription's attempts over the last `window`, in equal buckets aligned to their width (the
 * last one is the current, partial one), and over the whole window: one statement, reading only
 * `delivery_attempts_subscription_time` (the subscription's attempts in the range, with what the
 * figures need in the index). A bucket without attempts is listed with zeros.
 */
export async function subscriptionHealth(
  q: Queryable,
  subscriptionId: string,
  window: HealthWindow,
): Promise<SubscriptionHealth> {
  const { seconds, bucketSeconds } = HEALTH_WINDOWS[window];
  const n = seconds / bucketSeconds;
  const { rows } = await q.query<FigureRow & { range_from: Date; range_to: Date }>(
    `WITH range AS (
       SELECT date_bin($2::int * interval '1 second', now(), timestamptz 'epoch') - ($3::int - 1) * $2::int * interval '1 second' AS from_, now() AS to_),
     a AS (
       SELECT date_bin($2::int * interval '1 second', started_at, timestamptz 'epoch') AS bucket, duration_ms,
              outcome = 'succeeded' AS ok,
              coalesce(status_code::text, CASE WHEN error LIKE 'timeout%' THEN 'timeout' ELSE 'error' END) AS answer
       FROM delivery_attempts, range
       WHERE subscription_id = $1 AND started_at >= range.from_ AND started_at <= range.to_),
     codes AS (
       SELECT bucket, answer, count(*)::int AS n FROM a GROUP BY GROUPING SETS ((bucket, answer), (answer))),
     per AS (
       SELECT bucket, count(*)::int AS attempts, count(*) FILTER (WHERE ok)::int AS succeeded,
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms))::int AS p50,
              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms))::int AS p99
       FROM a GROUP BY GROUPING SETS ((bucket), ()))
     SELECT per.*, range.from_ AS range_from, range.to_ AS range_to,
            (SELECT jsonb_object_agg(c.answer, c.n) FROM codes c
             WHERE c.bucket IS NOT DISTINCT FROM per.bucket) AS codes
     FROM per, range`,
    [subscriptionId, bucketSeconds, n],
  );
  const from = rows[0]!.range_from;
  const byBucket = new Map(rows.filter((r) => r.bucket !== null).map((r) => [r.bucket!.getTime(), r]));
  const buckets: HealthBucket[] = [];
  for (let i = 0; i < n; i++) {
    const start = new Date(from.getTime() + i * bucketSeconds * 1000);
    buckets.push({ start: start.toISOString(), ...figures(byBucket.get(start.getTime())) });
  }
  return {
    window,
    bucketSeconds,
    from: from.toISOString(),
    to: rows[0]!.range_to.toISOString(),
    totals: figures(rows.find((r) => r.bucket === null)),
    buckets,
  };
}
