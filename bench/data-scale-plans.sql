-- The plans of issue 18's admin reads on the database `bench/data-scale.ts --fill-only` leaves,
-- before migration 010 (its indexes dropped and the old one put back, in a transaction rolled back)
-- and after it:
--
--   psql -d fpt_scale_filled -v sub="$(psql -d fpt_scale_filled -Atc "SELECT id FROM subscriptions
--        WHERE location_id IS NULL ORDER BY created_at, id LIMIT 1")" -f bench/data-scale-plans.sql
\set since '''now''::timestamptz - interval ''1 day'''
\echo '=== after migration 010: a page of failed deliveries'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT d.seq, d.id, e.event_id, e.event_type
FROM (SELECT x.* FROM (
        SELECT * FROM deliveries y
        WHERE y.subscription_id = :'sub' AND y.status = 'failed'
        ORDER BY y.seq DESC LIMIT 50) x
      ORDER BY x.seq DESC LIMIT 50) d
LEFT JOIN events e ON e.seq = d.event_seq ORDER BY d.seq DESC;
\echo '=== after migration 010: replay {since: 1 day ago, status: failed} (rolled back)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
UPDATE deliveries d SET status = 'pending', attempts = 0, completed_at = NULL,
  next_attempt_at = CASE WHEN s.status = 'active' THEN now() ELSE 'infinity'::timestamptz END
FROM subscriptions s
WHERE s.id = :'sub' AND d.subscription_id = :'sub' AND d.created_at >= :since AND d.event_seq IS NOT NULL
  AND d.status IN ('failed', 'succeeded') AND d.status = ANY ('{failed}'::text[]);
ROLLBACK;

BEGIN;
DROP INDEX deliveries_history_idx, deliveries_replay_idx; -- (010's status index, kept to finished deliveries by 014)
CREATE INDEX deliveries_subscription_idx ON deliveries (subscription_id, seq);
\echo '=== before migration 010: a page of failed deliveries'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT d.seq, d.id, e.event_id, e.event_type
FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq
WHERE d.subscription_id = :'sub' AND d.status = 'failed' ORDER BY d.seq DESC LIMIT 50;
\echo '=== before migration 010: replay {since: 1 day ago, status: failed}'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
UPDATE deliveries d SET status = 'pending', attempts = 0, completed_at = NULL,
  next_attempt_at = CASE WHEN s.status = 'active' THEN now() ELSE 'infinity'::timestamptz END
FROM subscriptions s
WHERE s.id = :'sub' AND d.subscription_id = s.id AND d.created_at >= :since AND d.event_seq IS NOT NULL
  AND d.status = ANY ('{failed}'::text[]);
ROLLBACK;
