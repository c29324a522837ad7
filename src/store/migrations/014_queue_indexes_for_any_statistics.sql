-- The queue's partial indexes chosen so that per-contact probes have one index to use, whatever the
-- statistics say (docs/design.md, "Costs flat in stored volume: indexes and maintenance").
--
-- The due index takes only deliveries that can fall due: unfinished and not parked.
--
-- The queue had two partial indexes with the same predicate, `status IN ('pending', 'sending')`:
-- the due index (next_attempt_at, event_seq) for the claim, and the order index (subscription_id,
-- contact_id, event_seq) for "what is unfinished ahead of this contact?". Every statement that asks
-- the second question could also be answered from the due index, by walking all of it and filtering.
-- When the table's statistics say there is nothing unfinished (a large table analyzed while its
-- queue was empty, which the next burst does not change enough to re-analyze), both indexes look
-- empty, and the planner took the due index for the fan-out's per-contact probes: each probe walked
-- every unfinished delivery, so closing a burst cost (contacts x backlog) (34.6 s instead of 1.3 s on
-- the filled database of bench/data-scale.ts).
--
-- With `next_attempt_at < 'infinity'` in its predicate, the due index answers only statements that
-- say so: the claim, the next-due timer, the lag figure and the lease reaper do (a delivery due now
-- is not parked); the per-contact probes do not, whatever the statistics, so the order index is the
-- only index they can use. Parked deliveries (a paused subscription's) leave the due index; nothing
-- looked them up through it.
--
-- The build reads every partition of deliveries once (it cannot run CONCURRENTLY on a partitioned
-- table): seconds on the data-scale volume, during which deliveries are not written.
CREATE INDEX deliveries_due_not_parked_idx ON deliveries (next_attempt_at, event_seq)
  WHERE status IN ('pending', 'sending') AND next_attempt_at < 'infinity';
DROP INDEX deliveries_due_idx;

-- For the same reason, the index of a subscription's deliveries by status (migration 010) keeps only
-- finished ones, which is what it is for (the delivery history, by status, newest first). With the
-- unfinished ones in it, `subscription_id = … AND status = 'pending'` was an index range there too,
-- and a per-contact probe planned on it walked the subscription's whole backlog for each contact
-- (seen on an empty database whose statistics predate the backlog: 18,000 entries per probe). Now the
-- order index is the only index of unfinished deliveries a subscription's probe can use. A list of
-- a subscription's pending or sending deliveries reads its backlog through the order index and
-- sorts it; and a delivery's insert no longer writes an entry here, only its completion does.
CREATE INDEX deliveries_history_idx ON deliveries (subscription_id, status, seq)
  WHERE status IN ('succeeded', 'failed');
DROP INDEX deliveries_subscription_status_idx;
