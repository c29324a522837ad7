-- The audit log and the stored answers of idempotent requests (docs/api.md, "Audit log" and
-- "Idempotent requests").
--
-- One row per security-relevant action, written in the transaction of the action itself, so that
-- an action that fails leaves no row and one that commits always has its row. `seq` is the cursor
-- of `GET /api/audit-log?after=`. The scope columns say which staff keys may read a row: a key
-- scoped to the location, or to the organization; rows with neither (an operator-key reset, an
-- organization's creation) are the operator's alone.
CREATE TABLE audit_log (
  seq             bigserial PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  -- who: 'operator', 'api_key' (with its id) or 'system' (the service itself, e.g. disabling a
  -- subscription whose endpoint answered 410)
  actor_type      text NOT NULL CHECK (actor_type IN ('operator', 'api_key', 'system')),
  actor_id        bigint,
  client_address  text,
  action          text NOT NULL,
  target_type     text NOT NULL,
  target_id       text NOT NULL,
  organization_id bigint,
  location_id     bigint,
  details         jsonb NOT NULL DEFAULT '{}',
  -- the writing transaction: a reader is shown only rows of transactions older than any still
  -- running, so that a cursor never passes over a row that commits later with a lower seq (as the
  -- events' pull API does)
  tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_target ON audit_log (target_id, seq);
CREATE INDEX audit_log_organization ON audit_log (organization_id, seq) WHERE organization_id IS NOT NULL;

-- A subscription disabled by the service (its endpoint answered 410, or failed for five days) is
-- recorded by the database itself, in the transaction that disables it: the delivery worker needs
-- no knowledge of the audit log. One disabled by hand (`disabled_by` set: the gym, the operator or
-- its app) is recorded by its route, with who did it.
CREATE FUNCTION audit_subscription_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_log (actor_type, action, target_type, target_id, organization_id, location_id, details)
  VALUES ('system', 'subscription.disabled', 'subscription', NEW.id, NEW.organization_id, NEW.location_id,
          jsonb_build_object('reason', NEW.disabled_reason, 'url', NEW.url));
  RETURN NULL;
END $$;
CREATE TRIGGER subscription_disabled AFTER UPDATE OF status ON subscriptions
  FOR EACH ROW WHEN (NEW.status = 'disabled' AND OLD.status IS DISTINCT FROM 'disabled' AND NEW.disabled_by IS NULL)
  EXECUTE FUNCTION audit_subscription_disabled();

-- Idempotency keys: the first request with a key inserts its row, in a transaction of its own,
-- before it runs ("in progress": `status` null); its answer is stored when it is sent. A second
-- request with the same key and owner finds the row: the stored answer, or 409 while the first
-- still runs. Kept 24 hours.
CREATE TABLE idempotency_keys (
  -- 'operator' or 'api_key:<id>'
  owner        text COLLATE "C" NOT NULL,
  key          text COLLATE "C" NOT NULL,
  -- SHA-256 of the method, route and body: the same key with another request is refused
  fingerprint  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  status       integer,
  content_type text,
  body         text,
  PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
