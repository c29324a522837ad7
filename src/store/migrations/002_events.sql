-- Coalescing windows and the events they emit.

-- One open window per contact. A contact write opens it (or extends it) in the write's own
-- transaction, so no committed change can miss its window; closing it writes the window's events
-- and deletes the row in one transaction, so a window's events exist exactly once.
CREATE TABLE contact_windows (
  contact_id       bigint PRIMARY KEY REFERENCES contacts (contact_id),
  window_id        text NOT NULL,
  -- S0: the contact as it was before the window's first change; null when the window created it
  before_state     jsonb,
  -- the location's default group when the window created the contact (a creation's status_changed)
  default_group_id smallint,
  first_seq        integer NOT NULL,
  last_seq         integer NOT NULL,
  opened_at        timestamptz NOT NULL,
  last_change_at   timestamptz NOT NULL,
  close_at         timestamptz NOT NULL
);
CREATE INDEX contact_windows_close_at_idx ON contact_windows (close_at);

CREATE TABLE events (
  -- commit-ordered position for the pull API's cursor
  seq             bigserial PRIMARY KEY,
  event_id        text NOT NULL UNIQUE,
  window_id       text NOT NULL,
  -- order of the event within its window
  position        smallint NOT NULL,
  event_type      text NOT NULL,
  contact_id      bigint NOT NULL,
  location_id     bigint NOT NULL,
  organization_id bigint NOT NULL,
  event_timestamp timestamptz NOT NULL,
  data            jsonb NOT NULL,
  -- the writing transaction: readers skip rows of transactions that may still be in flight, so a
  -- cursor never steps over an event that commits late (see store/events.ts)
  tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_location_idx ON events (location_id, seq);
CREATE INDEX events_organization_idx ON events (organization_id, seq);
CREATE INDEX events_contact_idx ON events (contact_id, seq);
CREATE INDEX events_timestamp_idx ON events (event_timestamp);
