-- Partner apps: a partner company's integration, global to the platform. Every partner key belongs
-- to exactly one app, and a subscription created with a partner key belongs to that key's app: the
-- app's keys alone manage it (docs/api.md, "Partner apps and ownership").

CREATE TABLE apps (
  id          text COLLATE "C" PRIMARY KEY,
  name        text NOT NULL,
  description text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every existing partner key gets an app of its own, named after the key.
ALTER TABLE api_keys ADD COLUMN app_id text COLLATE "C";
UPDATE api_keys SET app_id = 'app_' || replace(gen_random_uuid()::text, '-', '') WHERE role = 'partner';
INSERT INTO apps (id, name, created_at, updated_at)
  SELECT app_id, coalesce(description, 'Partner key ' || key_prefix), created_at, created_at
  FROM api_keys WHERE role = 'partner';
ALTER TABLE api_keys ADD CONSTRAINT api_keys_app_id_fkey FOREIGN KEY (app_id) REFERENCES apps (id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_app_role_check CHECK ((role = 'partner') = (app_id IS NOT NULL));
CREATE INDEX api_keys_app_idx ON api_keys (app_id) WHERE app_id IS NOT NULL;

-- The owner of a subscription (null: the gym's own, made with a staff key or by the operator), the
-- key that created it, and who disabled it when the gym or the operator did (null: disabled by its
-- delivery outcomes, or not disabled): an app may re-enable only what it or its failures disabled.
ALTER TABLE subscriptions ADD COLUMN app_id text COLLATE "C" REFERENCES apps (id);
ALTER TABLE subscriptions ADD COLUMN created_by_key_id bigint REFERENCES api_keys (id);
ALTER TABLE subscriptions ADD COLUMN disabled_by text CHECK (disabled_by IN ('app', 'gym', 'operator'));
CREATE INDEX subscriptions_app_idx ON subscriptions (app_id) WHERE app_id IS NOT NULL;

-- Which key created a subscription was not recorded before this migration. A subscription goes to
-- a partner's app only when exactly one partner key could have created it (a key of its location,
-- or of its organization, that existed when it was created): that key's partner could already
-- manage it, so no partner gains access to anything. The rest stay the gym's; the operator can move
-- one to its app (PATCH /api/subscriptions/{id} {"appId": …}).
UPDATE subscriptions s SET app_id = c.app_id, created_by_key_id = c.key_id
FROM (
  SELECT s2.id AS subscription_id, min(k.app_id) AS app_id, min(k.id) AS key_id
  FROM subscriptions s2
  JOIN api_keys k ON k.role = 'partner' AND k.created_at <= s2.created_at
    AND (k.location_id = s2.location_id OR (s2.organization_id > 0 AND k.organization_id = s2.organization_id))
  GROUP BY s2.id
  HAVING count(*) = 1
) c
WHERE s.id = c.subscription_id;
