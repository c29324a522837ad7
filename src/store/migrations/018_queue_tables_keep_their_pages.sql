-- The queue's tables keep their empty pages at the end instead of VACUUM truncating them.
--
-- A VACUUM that finds empty pages at a table's end truncates them, under an ACCESS EXCLUSIVE lock:
-- it waits for the lock (retrying for up to 5 s while the table is in use), then holds it while it
-- scans back over the pages, blocking every read and write of the table meanwhile. The queue's
-- tables are in use all the time and their rows come and go in minutes: a contact's window lives
-- until it closes, a delivery until it is forgotten. Measured under a closed loop of writes on
-- PostgreSQL (BENCHMARKS.md, "Session 11"), the service's VACUUM of contact_windows took up to 2.9 s
-- (p50 565 ms), most of it waiting for that lock, against 10-50 ms for the other queue tables;
-- sampled pg_stat_activity showed 0.2-0.4 sessions waiting in VacuumTruncate on average. The pages
-- kept are reused by the next rows, so a queue's table stays at the size of its largest backlog.
-- The same holds for autovacuum on a production server, which reads the same setting.
-- Whoever creates a partition calls fpt_tune_queue_autovacuum for it (src/store/partitions.ts).
CREATE OR REPLACE FUNCTION fpt_tune_queue_autovacuum(rel regclass) RETURNS void LANGUAGE plpgsql AS $$
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
      ' autovacuum_analyze_threshold = 1000, vacuum_index_cleanup = on, vacuum_truncate = off)',
      leaf);
  END LOOP;
END $$;

SELECT fpt_tune_queue_autovacuum('deliveries');
SELECT fpt_tune_queue_autovacuum('delivery_attempts');
SELECT fpt_tune_queue_autovacuum('contact_windows');
SELECT fpt_tune_queue_autovacuum('delivery_workers');
