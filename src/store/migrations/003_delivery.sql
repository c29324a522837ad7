-- Subscriptions, their deliveries (one per event and subscription), and every attempt.

CREATE TABLE subscriptions (
  id                         text PRIMARY KEY,
  -- the organization of the scope (0 for a location without one)
  organization_id            bigint NOT NULL,
  -- the one location of a location-scoped subscription; null: every location of the organization
  location_id                bigint REFERENCES locations (id),
  url                        text NOT NULL,
  -- null: every event type
  event_types                text[],
  description                text,
  status                     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
  disabled_reason            text,
  -- kept in clear: every delivery is signed with it (as Svix and Stripe keep theirs)
  secret                     text NOT NULL,
  -- during a rotation's overlap the previous secret signs too
  previous_secret            text,
  previous_secret_expires_at timestamptz,
  last_success_at            timestamptz,
  -- the first failure since the last success: five days of it disable the subscription
  failing_since              timestamptz,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  CHECK (location_id IS NOT NULL OR organization_id > 0)
);
CREATE INDEX subscriptions_location_idx ON subscriptions (location_id) WHERE location_id IS NOT NULL;
CREATE INDEX subscriptions_organization_idx ON subscriptions (organization_id) WHERE location_id IS NULL;

CREATE TABLE deliveries (
  id               text PRIMARY KEY,
  -- creation order, for listing and paging (through deliveries_subscription_idx)
  seq              bigserial,
  subscription_id  text NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
  -- null for a test event, whose envelope is kept in test_payload instead
  event_seq        bigint REFERENCES events (seq) ON DELETE CASCADE,
  test_payload     jsonb,
  -- 0 for a test event
  contact_id       bigint NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'succeeded', 'failed')),
  -- attempts of the current run of the schedule (a manual retry or replay starts a new run)
  attempts         integer NOT NULL DEFAULT 0,
  -- pending: when the next attempt is due; sending: when the sender's lease runs out
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  CHECK ((event_seq IS NULL) <> (test_payload IS NULL))
);
-- the claim: unfinished deliveries in due order, then emission order (a burst shares one due time;
-- without the second column every claim would sort the whole backlog)
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at, event_seq) WHERE status IN ('pending', 'sending');
-- per-contact order: is an earlier delivery of this contact to this subscription still unfinished?
CREATE INDEX deliveries_order_idx ON deliveries (subscription_id, contact_id, event_seq)
  WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_subscription_idx ON deliveries (subscription_id, seq);
CREATE INDEX deliveries_event_idx ON deliveries (event_seq);

CREATE TABLE delivery_attempts (
  id            bigserial PRIMARY KEY,
  delivery_id   text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt       integer NOT NULL,
  started_at    timestamptz NOT NULL,
  duration_ms   integer NOT NULL,
  status_code   integer,
  -- the first few KB of the endpoint's answer
  response_body text,
  error         text,
  outcome       text NOT NULL CHECK (outcome IN ('succeeded', 'retry', 'failed', 'disabled'))
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, id);
