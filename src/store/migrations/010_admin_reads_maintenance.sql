-- Admin reads answered by indexes whose cost follows the rows they return, and the queue's
-- maintenance (docs/design.md, "Costs flat in stored volume: indexes and maintenance").
--
-- Every statement here works whether `events` and `deliveries` are plain tables or partitioned ones
-- (an index created on a partitioned table is created on each partition, and on partitions made
-- later).

-- A subscription's deliveries by status, newest first (GET /api/subscriptions/{id}/deliveries): one
-- range of this index per status asked for, walked backwards from the cursor. It replaces
-- (subscription_id, seq), which a status filter walked row by row (1.5M rows read and thrown away
-- for 50 failed ones); the unfiltered list reads the four statuses' ranges and merges them.
CREATE INDEX deliveries_subscription_status_idx ON deliveries (subscription_id, status, seq);
DROP INDEX IF EXISTS deliveries_subscription_idx;

-- Replay's requeue: a subscription's finished deliveries of a status since a time. Only finished
-- deliveries of events are entered (one entry per delivery, written when it finishes), so the hot
-- path's inserts and claims do not pay for it.
CREATE INDEX deliveries_replay_idx ON deliveries (subscription_id, status, created_at)
  WHERE status IN ('failed', 'succeeded') AND event_seq IS NOT NULL;

-- Replay's missed events: a location's (or an organization's) events since a time, instead of every
-- tenant's events since then filtered down to one.
CREATE INDEX events_location_time_idx ON events (location_id, event_timestamp);
CREATE INDEX events_organization_time_idx ON events (organization_id, event_timestamp);

-- Maintenance rounds (src/events/maintenance.ts): each process's runner claims the next round with
-- one conditional UPDATE of this row, so one process at a time analyzes and vacuums, whatever the
-- number of processes.
CREATE TABLE maintenance_runs (
  name        text PRIMARY KEY,
  -- the next round may start then
  next_at     timestamptz NOT NULL DEFAULT '-infinity',
  -- the process running the current round, until then (a process that dies mid-round loses it)
  lease_until timestamptz NOT NULL DEFAULT '-infinity',
  held_by     text,
  last_report jsonb
);
INSERT INTO maintenance_runs (name) VALUES ('queue');

-- Autovacuum of the delivery queue on PostgreSQL. With the defaults a table is vacuumed once a fifth
-- of its rows are dead: at six million deliveries, over a million dead row versions, whose index
-- entries every claim and every /metrics scrape walk over (1,002 pages read instead of 11). The
-- queue's tables are vacuumed after 1% of their rows (and 1,000) changed, analyzed after 2%, with
-- their index entries always cleaned (PostgreSQL 14+ may otherwise skip the indexes when few pages
-- have dead rows, leaving exactly the entries the claim walks). PostgreSQL 15 refuses these settings on a partitioned table:
-- they go on each partition, so whoever creates a partition calls this function for it too.
CREATE FUNCTION fpt_tune_queue_autovacuum(rel regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  leaf regclass;
BEGIN
  FOR leaf IN
    SELECT c.oid::regclass FROM pg_class c
    WHERE c.relkind = 'r'
      AND (c.oid = rel OR c.oid IN (SELECT relid FROM pg_partition_tree(rel) WHERE isleaf))
  LOOP
    EXECUTE format(
      'ALTER TABLE %s SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,'
      ' autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02,'
      ' autovacuum_analyze_threshold = 1000, vacuum_index_cleanup = on)',
      leaf);
  END LOOP;
END $$;

SELECT fpt_tune_queue_autovacuum('deliveries');
SELECT fpt_tune_queue_autovacuum('delivery_attempts');
SELECT fpt_tune_queue_autovacuum('contact_windows');
SELECT fpt_tune_queue_autovacuum('delivery_workers');
