-- The events list (GET /api/events?type=) of a location or an organization reads the events of that
-- type it returns, not every event of the scope (docs/design.md, "Costs flat in stored volume: admin
-- reads and maintenance").
--
-- The list was answered from (location_id, seq) or (organization_id, seq): a page of all types is one
-- range there, but `?type=` filtered the scope's events one by one. A partner polling for a rare type
-- (contact.deleted) with its cursor past the last one walked every event of its scope since that
-- cursor at every poll, and found nothing. With the type between the scope and seq, a page of a rare
-- type is one range of the index, at most a page long; a page of every type merges one branch per
-- type (src/store/events.ts, `listEvents`).
--
-- The two indexes replace the two they extend, so an event's insert writes as many index entries as
-- before. Nothing else looked events up by (scope, seq). The builds read every partition of events
-- once (they cannot run CONCURRENTLY on a partitioned table): seconds on the data-scale volume,
-- during which events are not written (windows wait to close; nothing is lost).
CREATE INDEX events_location_type_idx ON events (location_id, event_type, seq);
DROP INDEX events_location_idx;
CREATE INDEX events_organization_type_idx ON events (organization_id, event_type, seq);
DROP INDEX events_organization_idx;
