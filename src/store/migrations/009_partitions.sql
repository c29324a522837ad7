-- Events, their deliveries and the deliveries' attempts, partitioned so that retention drops whole
-- partitions instead of deleting rows (docs/design.md, "Partitioned retention").
--
-- The three tables share one partition key, the event's `seq` (for a delivery and an attempt: the
-- `event_seq` of the event they deliver): partition n of each holds the events whose seq lies in
-- [n * 2^40, (n + 1) * 2^40), their deliveries and those deliveries' attempts, so the three are
-- dropped together and nothing is left pointing at a dropped event. The events' sequence moves to
-- the next partition only when the service rolls over (src/store/partitions.ts): once a day by
-- default, so each partition holds about one day of events. It jumps only into a partition that
-- already exists, so an insert can never find its partition missing, whatever the clocks say.
--
-- Today's tables are not copied: each becomes partition 0 as it is ([1, 2^40): every seq issued so
-- far), keeping its rows, indexes and sequences. Test deliveries (no event: `event_seq` null) and
-- their attempts move to a default partition of their own, which admits nothing else.

-- One row per partition number: when the events' sequence entered it and left it. A partition is
-- dropped once it was left longer ago than the retention period.
CREATE TABLE event_partitions (
  n         integer PRIMARY KEY CHECK (n >= 0),
  opened_at timestamptz,
  closed_at timestamptz
);
INSERT INTO event_partitions (n, opened_at) VALUES (0, now()), (1, NULL);

---------------------------------------------------------------------------------------------------
-- events
ALTER TABLE events RENAME TO events_p0;
ALTER INDEX events_pkey RENAME TO events_p0_pkey;
ALTER INDEX events_location_idx RENAME TO events_p0_location_idx;
ALTER INDEX events_organization_idx RENAME TO events_p0_organization_idx;
ALTER INDEX events_contact_idx RENAME TO events_p0_contact_idx;
ALTER INDEX events_timestamp_idx RENAME TO events_p0_timestamp_idx;
-- unique only within a partition once partitioned; event ids are unique by construction (a
-- millisecond time and 80 random bits, src/domain/ids.ts)
ALTER TABLE events_p0 DROP CONSTRAINT events_event_id_key;

CREATE TABLE events (
  seq             bigint NOT NULL DEFAULT nextval('events_seq_seq'),
  event_id        text NOT NULL,
  window_id       text NOT NULL,
  position        smallint NOT NULL,
  event_type      text NOT NULL,
  contact_id      bigint NOT NULL,
  location_id     bigint NOT NULL,
  organization_id bigint NOT NULL,
  event_timestamp timestamptz NOT NULL,
  data            jsonb NOT NULL,
  tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (seq)
) PARTITION BY RANGE (seq);
-- the sequence now belongs to the partitioned table: dropping partition 0 must not drop it
ALTER SEQUENCE events_seq_seq OWNED BY events.seq;
CREATE INDEX events_event_id_idx ON events (event_id);
CREATE INDEX events_location_idx ON events (location_id, seq);
CREATE INDEX events_organization_idx ON events (organization_id, seq);
CREATE INDEX events_contact_idx ON events (contact_id, seq);
CREATE INDEX events_timestamp_idx ON events (event_timestamp);
-- the existing indexes of partition 0 match these and are attached, not rebuilt
ALTER TABLE events ATTACH PARTITION events_p0 FOR VALUES FROM (1) TO (1099511627776);
CREATE TABLE events_p1 PARTITION OF events FOR VALUES FROM (1099511627776) TO (2199023255552);

---------------------------------------------------------------------------------------------------
-- deliveries
ALTER TABLE deliveries RENAME TO deliveries_p0;
ALTER INDEX deliveries_due_idx RENAME TO deliveries_p0_due_idx;
ALTER INDEX deliveries_order_idx RENAME TO deliveries_p0_order_idx;
ALTER INDEX deliveries_subscription_idx RENAME TO deliveries_p0_subscription_idx;
ALTER INDEX deliveries_event_idx RENAME TO deliveries_p0_event_idx;

CREATE TABLE deliveries (
  id               text COLLATE "C" NOT NULL,
  seq              bigint NOT NULL DEFAULT nextval('deliveries_seq_seq'),
  subscription_id  text COLLATE "C" NOT NULL,
  -- null for a test event, whose envelope is kept in test_payload instead
  event_seq        bigint,
  test_payload     jsonb,
  contact_id       bigint NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CONSTRAINT deliveries_status_check CHECK (status IN ('pending', 'sending', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  leased_by        text COLLATE "C",
  -- (named as in the table it replaces: a partition attached must have its parent's constraints)
  CONSTRAINT deliveries_check CHECK ((event_seq IS NULL) <> (test_payload IS NULL)),
  -- ids are unique by construction ('dlv_' and an event id); the key must hold the partition key
  UNIQUE (id, event_seq)
) PARTITION BY RANGE (event_seq);
ALTER SEQUENCE deliveries_seq_seq OWNED BY deliveries.seq;
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at, event_seq) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_order_idx ON deliveries (subscription_id, contact_id, event_seq)
  WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_subscription_idx ON deliveries (subscription_id, seq);
CREATE INDEX deliveries_event_idx ON deliveries (event_seq);

-- test deliveries: the default partition, which a constraint keeps to them alone (so creating a
-- partition never has to scan it to prove it holds none of the new partition's rows)
CREATE TABLE deliveries_tests PARTITION OF deliveries (CHECK (event_seq IS NULL)) DEFAULT;
INSERT INTO deliveries_tests SELECT id, seq, subscription_id, event_seq, test_payload, contact_id, status, attempts,
  next_attempt_at, last_status_code, last_error, created_at, completed_at, leased_by
  FROM deliveries_p0 WHERE event_seq IS NULL;
DELETE FROM deliveries_p0 WHERE event_seq IS NULL;
ALTER TABLE deliveries_p0 DROP CONSTRAINT deliveries_pkey;
-- the partition's rows are proved in range by this constraint, so attaching needs no second scan
ALTER TABLE deliveries_p0 ADD CONSTRAINT deliveries_p0_range
  CHECK (event_seq IS NOT NULL AND event_seq >= 1 AND event_seq < 1099511627776);
ALTER TABLE deliveries ATTACH PARTITION deliveries_p0 FOR VALUES FROM (1) TO (1099511627776);
ALTER TABLE deliveries_p0 DROP CONSTRAINT deliveries_p0_range;
CREATE TABLE deliveries_p1 PARTITION OF deliveries FOR VALUES FROM (1099511627776) TO (2199023255552);

---------------------------------------------------------------------------------------------------
-- delivery_attempts: each attempt carries its delivery's event_seq, its partition key
ALTER TABLE delivery_attempts RENAME TO delivery_attempts_p0;
ALTER TABLE delivery_attempts_p0 DROP CONSTRAINT delivery_attempts_pkey;
ALTER TABLE delivery_attempts_p0 ADD COLUMN event_seq bigint;
UPDATE delivery_attempts_p0 a SET event_seq = d.event_seq FROM deliveries_p0 d WHERE d.id = a.delivery_id;

CREATE TABLE delivery_attempts (
  id            bigint NOT NULL DEFAULT nextval('delivery_attempts_id_seq'),
  delivery_id   text COLLATE "C" NOT NULL,
  attempt       integer NOT NULL,
  started_at    timestamptz NOT NULL,
  duration_ms   integer NOT NULL,
  status_code   integer,
  response_body text,
  error         text,
  outcome       text NOT NULL CONSTRAINT delivery_attempts_outcome_check CHECK (outcome IN ('succeeded', 'retry', 'failed', 'disabled')),
  -- the delivery's event (null: a test delivery's attempt)
  event_seq     bigint,
  -- the attempt log's one index: the delivery, then the attempts' order
  UNIQUE (delivery_id, id, event_seq)
) PARTITION BY RANGE (event_seq);
ALTER SEQUENCE delivery_attempts_id_seq OWNED BY delivery_attempts.id;
CREATE TABLE delivery_attempts_tests PARTITION OF delivery_attempts (CHECK (event_seq IS NULL)) DEFAULT;
-- a test delivery's attempts, and any attempt whose delivery is gone (none are expected: the purge
-- removed both together), go to the default partition: every row is kept
INSERT INTO delivery_attempts_tests SELECT id, delivery_id, attempt, started_at, duration_ms, status_code,
  response_body, error, outcome, event_seq
  FROM delivery_attempts_p0 WHERE event_seq IS NULL;
DELETE FROM delivery_attempts_p0 WHERE event_seq IS NULL;
ALTER TABLE delivery_attempts_p0 ADD CONSTRAINT delivery_attempts_p0_range
  CHECK (event_seq IS NOT NULL AND event_seq >= 1 AND event_seq < 1099511627776);
ALTER TABLE delivery_attempts ATTACH PARTITION delivery_attempts_p0 FOR VALUES FROM (1) TO (1099511627776);
ALTER TABLE delivery_attempts_p0 DROP CONSTRAINT delivery_attempts_p0_range;
CREATE TABLE delivery_attempts_p1 PARTITION OF delivery_attempts
  FOR VALUES FROM (1099511627776) TO (2199023255552);
