-- Delivery workers announce themselves, so that a dead one's deliveries are taken over in seconds
-- rather than when their leases run out (docs/design.md, "A dead worker's deliveries").
--
-- Each worker sharing a PostgreSQL server keeps a row here and renews `heartbeat_at` every few
-- seconds; a row left unrenewed for longer than the dead-after time is a dead worker, which any
-- other worker deletes, making that worker's leased deliveries due at once.
CREATE TABLE delivery_workers (
  id           text COLLATE "C" PRIMARY KEY,
  host         text NOT NULL,
  pid          integer NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- The worker holding a `sending` delivery's lease (null on the embedded engine, whose one worker
-- competes with nobody, and for rows leased before this migration). No index: it is read only
-- when a dead worker is found, through the partial index of unfinished deliveries.
ALTER TABLE deliveries ADD COLUMN leased_by text COLLATE "C";
