-- Foundation: tenants, keys, sub-groups, contacts and their history.
-- Plain SQL that runs unchanged on PGlite and on PostgreSQL 15+.

CREATE TABLE settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE locations (
  id                       bigserial PRIMARY KEY,
  organization_id          bigint REFERENCES organizations (id),
  name                     text NOT NULL,
  default_contact_group_id smallint NOT NULL DEFAULT 1 CHECK (default_contact_group_id BETWEEN 1 AND 7),
  -- sub-group ids are numbered per location: (location_id, sub_group_id) is the key
  next_sub_group_id        integer NOT NULL DEFAULT 1,
  created_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX locations_organization_idx ON locations (organization_id);

CREATE TABLE api_keys (
  id              bigserial PRIMARY KEY,
  -- SHA-256 of the whole key: keys carry 256 random bits, so a fast hash is enough (as GitHub and
  -- Stripe do); the key itself is shown once and never stored
  key_hash        text NOT NULL UNIQUE,
  key_prefix      text NOT NULL,
  role            text NOT NULL CHECK (role IN ('staff', 'partner')),
  organization_id bigint REFERENCES organizations (id),
  location_id     bigint REFERENCES locations (id),
  description     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  CHECK ((organization_id IS NULL) <> (location_id IS NULL))
);

CREATE TABLE sub_groups (
  location_id  bigint NOT NULL REFERENCES locations (id),
  sub_group_id integer NOT NULL,
  name         text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, sub_group_id)
);
CREATE UNIQUE INDEX sub_groups_name_idx ON sub_groups (location_id, lower(name));

CREATE TABLE contacts (
  contact_id        bigserial PRIMARY KEY,
  location_id       bigint NOT NULL REFERENCES locations (id),
  is_active         boolean NOT NULL DEFAULT true,
  contact_group_id  smallint NOT NULL CHECK (contact_group_id BETWEEN 1 AND 7),
  sub_group_id      integer,
  first_name        text,
  last_name         text,
  email             text,
  phone             text,
  tags              text[] NOT NULL DEFAULT '{}',
  can_sms           boolean NOT NULL DEFAULT false,
  can_email         boolean NOT NULL DEFAULT false,
  can_call          boolean NOT NULL DEFAULT false,
  last_contacted_at timestamptz,
  last_sms_in_at    timestamptz,
  last_call_at      timestamptz,
  assigned_staff_id bigint,
  membership_type   text,
  trial_ends_at     timestamptz,
  external_id       text,
  custom_fields     jsonb NOT NULL DEFAULT '{}',
  -- sequence number of the contact's latest history row
  seq               integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  -- a contact's sub-group must belong to the contact's own location
  FOREIGN KEY (location_id, sub_group_id) REFERENCES sub_groups (location_id, sub_group_id)
);
CREATE INDEX contacts_location_idx ON contacts (location_id, contact_id);
CREATE INDEX contacts_email_idx ON contacts (location_id, lower(email)) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX contacts_external_id_idx ON contacts (location_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE contact_history (
  contact_id  bigint NOT NULL REFERENCES contacts (contact_id),
  seq         integer NOT NULL,
  location_id bigint NOT NULL,
  operation   text NOT NULL CHECK (operation IN ('create', 'update', 'delete', 'reactivate', 'transfer')),
  source      text NOT NULL CHECK (source IN ('staff', 'automation', 'billing', 'import', 'api')),
  actor_type  text NOT NULL CHECK (actor_type IN ('operator', 'api_key', 'automation_rule', 'system')),
  actor_id    bigint,
  at          timestamptz NOT NULL DEFAULT now(),
  changes     jsonb NOT NULL,
  PRIMARY KEY (contact_id, seq)
);
