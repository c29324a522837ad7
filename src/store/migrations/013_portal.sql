-- What the web portal needs of the store (issue #16; docs/api.md, "Portal links and sessions",
-- "Endpoint health" and "Contact timeline").

-- Portal links: a one-time token, minted by a key (null: the operator key), exchanged once for a
-- session. Only the SHA-256 of each token is kept, as for API keys.
CREATE TABLE portal_links (
  token_hash      text COLLATE "C" PRIMARY KEY,
  key_id          bigint REFERENCES api_keys (id),
  session_minutes integer NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  -- set by the one exchange that succeeds
  used_at         timestamptz
);
CREATE INDEX portal_links_expires_at ON portal_links (expires_at);

-- Portal sessions: a bearer token standing for the key that minted its link (the same role, scope
-- and app; it stops working when that key is revoked), until it expires or is signed out.
CREATE TABLE portal_sessions (
  id         text COLLATE "C" PRIMARY KEY,
  token_hash text COLLATE "C" NOT NULL UNIQUE,
  key_id     bigint REFERENCES api_keys (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  ended_at   timestamptz
);
CREATE INDEX portal_sessions_expires_at ON portal_sessions (expires_at);

-- Endpoint health reads a subscription's attempts over a time range: the attempt log names its
-- subscription (written with each attempt), and one index serves the range with what the figures
-- need, so the health of a week of a busy endpoint is read from the index alone.
ALTER TABLE delivery_attempts ADD COLUMN subscription_id text COLLATE "C";
UPDATE delivery_attempts a SET subscription_id = d.subscription_id FROM deliveries d WHERE d.id = a.delivery_id;
CREATE INDEX delivery_attempts_subscription_time ON delivery_attempts (subscription_id, started_at)
  INCLUDE (duration_ms, status_code, outcome, error);

-- The attempt log keeps the two signature headers each attempt sent: with the delivery's body and
-- its other headers, which do not change between attempts, they tell the request exactly as sent
-- (the signing secret may have been rotated since, so they cannot be computed again).
ALTER TABLE delivery_attempts ADD COLUMN fpt_signature text;
ALTER TABLE delivery_attempts ADD COLUMN webhook_signature text;

-- Closed coalescing windows: which history steps each window held (the events carry its id), so a
-- contact's timeline can show the windows that emitted nothing too. Written by the database as the
-- closer deletes the open windows, one statement per close, with no change to the closer.
CREATE TABLE contact_window_log (
  window_id      text COLLATE "C" PRIMARY KEY,
  contact_id     bigint NOT NULL,
  first_seq      integer NOT NULL,
  last_seq       integer NOT NULL,
  opened_at      timestamptz NOT NULL,
  last_change_at timestamptz NOT NULL,
  closed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_window_log_contact ON contact_window_log (contact_id, first_seq);
CREATE INDEX contact_window_log_closed_at ON contact_window_log (closed_at);

CREATE FUNCTION log_closed_windows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO contact_window_log (window_id, contact_id, first_seq, last_seq, opened_at, last_change_at)
  SELECT window_id, contact_id, first_seq, last_seq, opened_at, last_change_at FROM closed
  ON CONFLICT (window_id) DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER contact_windows_closed AFTER DELETE ON contact_windows
  REFERENCING OLD TABLE AS closed FOR EACH STATEMENT EXECUTE FUNCTION log_closed_windows();
