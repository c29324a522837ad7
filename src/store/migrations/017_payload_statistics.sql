-- ANALYZE gathers no statistics of the payload columns (docs/design.md, "Maintenance off the hot
-- path"). ANALYZE reads a sample of rows and computes, for every column, its most common values and
-- a histogram; for a JSON payload or an answer's body that means detoasting and comparing large
-- values, most of the work, for statistics no statement uses: nothing filters, joins or sorts on
-- these columns. On a table of 100,000 events ANALYZE took 420-670 ms with them and 140-200 ms
-- without (BENCHMARKS.md), and the embedded engine runs it in the service's own thread.
--
-- ALTER TABLE on a partitioned table sets its existing partitions too; a partition made later does
-- not inherit the target, so the service copies its table's targets onto each partition it makes
-- (src/store/partitions.ts).
ALTER TABLE events ALTER COLUMN data SET STATISTICS 0, ALTER COLUMN traceparent SET STATISTICS 0;
ALTER TABLE deliveries ALTER COLUMN last_error SET STATISTICS 0, ALTER COLUMN test_payload SET STATISTICS 0;
ALTER TABLE delivery_attempts ALTER COLUMN error SET STATISTICS 0, ALTER COLUMN response_body SET STATISTICS 0;
ALTER TABLE contact_windows ALTER COLUMN before_state SET STATISTICS 0, ALTER COLUMN trace_links SET STATISTICS 0,
  ALTER COLUMN traceparent SET STATISTICS 0;
ALTER TABLE contact_history ALTER COLUMN changes SET STATISTICS 0;
